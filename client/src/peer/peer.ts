import type SimplePeer from 'simple-peer'
import {
  decodeFrame,
  encodeFrame,
  FrameType,
  WIRE_VERSION,
  DATA_FRAME_PAYLOAD_BYTES,
  MAX_REQUESTS_IN_FLIGHT,
  CdnError,
  type Frame
} from '../../../protocol/src/index.js'
import { Emitter } from '../events.js'
import { UploadBucket } from '../upload-policy.js'
import { FetchingTable } from './fetching-table.js'
import { HaveTable } from './have-table.js'

/** What a peer may ask of us. Returns verified bytes, or undefined when we will not send. */
export type ChunkProvider = (resourceId: string, index: number) => Promise<Uint8Array | undefined>

export interface PeerOptions {
  provide: ChunkProvider
  /** Resolves when `bytes` more may be uploaded (the visitor's upload cap). */
  throttle: (bytes: number) => Promise<void>
  /** Everything we hold, sent right after the handshake. */
  holdings: Array<{ resourceId: string; chunkCount: number; bitfield: Uint8Array }>
  /** Chunk count of our manifest for a resource, undefined when we have none (see HaveTable). */
  chunksOf: (resourceId: string) => number | undefined
  /** This peer's own upload cap in bytes per second, besides the visitor's total; 0 = none. */
  uploadBytesPerSecond: number
  /**
   * Sends started per chunk (`resourceId:index`) to this peer id, kept by the swarm
   * across its connections: reconnecting must not buy a peer fresh copies.
   */
  sends: Map<string, number>
}

export interface PeerEvents {
  /** The peer announced (more) chunks of a resource, or finished its first HAVEs. */
  have: { resourceId: string | undefined }
  close: undefined
  /** Bytes we sent to this peer. */
  uploaded: number
}

/**
 * A request that ended without the whole chunk. `received` holds the bytes that did
 * arrive, a prefix of the chunk (DATA frames come in order), so another source can
 * continue from there.
 */
export class PeerRequestError extends CdnError {
  constructor(
    code: 'ERR_TIMEOUT' | 'ERR_PROTOCOL' | 'ERR_ABORTED',
    message: string,
    readonly received: Uint8Array
  ) {
    super(code, message)
    this.name = 'PeerRequestError'
  }
}

interface PendingRequest {
  resourceId: string
  index: number
  buffer: Uint8Array
  received: number
  /** `performance.now()` when asked. */
  started: number
  onData: ((received: number) => void) | undefined
  resolve: (bytes: Uint8Array) => void
  reject: (err: Error) => void
}

/**
 * Stop queueing DATA frames above this many buffered bytes and wait for the channel to
 * drain: the raw channel with this backpressure is about 1.5x faster than
 * simple-peer's stream `write()` (shared/CHROMIUM.md).
 */
const HIGH_WATER_BYTES = 1024 * 1024
/**
 * Times one chunk is sent to one peer. A second copy covers an honest peer that lost
 * the first (a cancelled request, an evicted cache); a peer asking again and again is
 * replaying requests to drain our upload (400 asks of 32 chunks once cost 57 MiB).
 */
export const MAX_SENDS_PER_CHUNK = 2

/** One connected peer: the wire protocol over a simple-peer data channel. */
export class Peer extends Emitter<PeerEvents> {
  readonly #sp: SimplePeer.Instance
  readonly #options: PeerOptions
  readonly #pending = new Map<number, PendingRequest>()
  readonly #cancelled = new Set<number>()
  readonly #have: HaveTable
  readonly #fetching: FetchingTable
  readonly #bucket: UploadBucket
  /** Request ids of this peer we are sending now. */
  readonly #serving = new Set<number>()
  #nextRequestId = 1
  #destroyed = false
  /** True once the peer sent HAVE_END: we know all it held when it connected. */
  haveComplete = false
  /** Bytes per millisecond of the last completed request, for choosing faster peers. */
  throughput = 0
  /** Milliseconds from asking to the first DATA frame, last request that got one; 0 before. */
  firstByteMs = 0
  /** When the data channel opened (`performance.now()`). */
  readonly openedAt = performance.now()

  constructor(
    readonly id: string,
    readonly region: string,
    sp: SimplePeer.Instance,
    options: PeerOptions
  ) {
    super()
    this.#sp = sp
    this.#options = options
    this.#have = new HaveTable(options.chunksOf)
    this.#fetching = new FetchingTable(options.chunksOf)
    this.#bucket = new UploadBucket(options.uploadBytesPerSecond)
    sp.on('data', (data: Uint8Array) => this.#onData(data))
    sp.on('close', () => this.destroy())
    sp.on('error', () => this.destroy())
    this.#send({ type: FrameType.HANDSHAKE, version: WIRE_VERSION })
    for (const h of options.holdings) this.sendHave(h.resourceId, h.chunkCount, h.bitfield)
    this.#send({ type: FrameType.HAVE_END })
  }

  get destroyed(): boolean {
    return this.#destroyed
  }

  /** Requests in flight to this peer. */
  get load(): number {
    return this.#pending.size
  }

  has(resourceId: string, index: number): boolean {
    return this.#have.has(resourceId, index)
  }

  /** The peer said it is fetching this chunk over HTTP now (FETCHING), and not long ago. */
  fetching(resourceId: string, index: number): boolean {
    return this.#fetching.has(resourceId, index)
  }

  /** FETCHING claims kept for this peer (bounded by FETCHING_RESOURCES). */
  get fetchingClaims(): number {
    return this.#fetching.size
  }

  /** Bitfield bytes kept for this peer's HAVEs of resources we have no manifest for. */
  get parkedHaveBytes(): number {
    return this.#have.unknownBytes
  }

  /** How many chunks of `resourceId` the peer announced. */
  heldCount(resourceId: string): number {
    let n = 0
    for (const byte of this.#have.get(resourceId) ?? []) for (let b = byte; b !== 0; b &= b - 1) n++
    return n
  }

  sendHave(resourceId: string, chunkCount: number, bitfield: Uint8Array): void {
    this.#send({ type: FrameType.HAVE, resourceId, chunkCount, bitfield })
  }

  /** Tell the peer which chunks of a resource we are fetching over HTTP now (all of them; none = empty). */
  sendFetching(resourceId: string, chunkCount: number, bitfield: Uint8Array): void {
    this.#send({ type: FrameType.FETCHING, resourceId, chunkCount, bitfield })
  }

  /**
   * Ask for chunk `index` of `size` bytes; `onData` hears the bytes received so far after
   * each DATA frame. Rejects with a `PeerRequestError` carrying the bytes received so far
   * on ABSENT, close, or `signal` (whose reason's code, ERR_TIMEOUT for a deadline, it
   * keeps). Deadlines are the caller's: it sees the progress.
   */
  async request(
    resourceId: string,
    index: number,
    size: number,
    signal?: AbortSignal,
    onData?: (received: number) => void
  ): Promise<Uint8Array> {
    if (this.#destroyed) throw new PeerRequestError('ERR_PROTOCOL', 'peer is gone', new Uint8Array(0))
    const requestId = this.#nextRequestId++
    const started = performance.now()
    const onAbort = (): void => {
      const reason: unknown = signal?.reason
      const timedOut = (reason as { code?: unknown } | undefined)?.code === 'ERR_TIMEOUT'
      this.#end(
        requestId,
        timedOut ? 'ERR_TIMEOUT' : 'ERR_ABORTED',
        reason instanceof Error ? reason.message : 'request aborted',
        true
      )
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const bytes = await new Promise<Uint8Array>((resolve, reject) => {
        this.#pending.set(requestId, {
          resourceId,
          index,
          buffer: new Uint8Array(size),
          received: 0,
          resolve,
          reject,
          started,
          onData
        })
        this.#send({ type: FrameType.REQUEST, requestId, resourceId, index })
        if (signal?.aborted === true) onAbort()
      })
      this.throughput = size / Math.max(1, performance.now() - started)
      return bytes
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const id of [...this.#pending.keys()]) this.#end(id, 'ERR_PROTOCOL', 'peer closed', false)
    this.#sp.destroy()
    this.emit('close', undefined)
    this.removeAll()
  }

  /** Settle a pending request as failed, handing back the prefix that arrived. */
  #end(
    requestId: number,
    code: 'ERR_TIMEOUT' | 'ERR_PROTOCOL' | 'ERR_ABORTED',
    message: string,
    cancel: boolean
  ): void {
    const p = this.#pending.get(requestId)
    if (p === undefined) return
    this.#pending.delete(requestId)
    if (cancel) this.#send({ type: FrameType.CANCEL, requestId })
    const received = p.buffer.subarray(0, p.received)
    p.reject(new PeerRequestError(code, message, received))
  }

  #send(frame: Frame): void {
    if (this.#destroyed || !this.#sp.connected) return
    try {
      this.#sp.send(encodeFrame(frame))
    } catch {
      this.destroy()
    }
  }

  #onData(data: Uint8Array): void {
    let frame: Frame
    try {
      frame = decodeFrame(data)
    } catch {
      this.destroy() // a peer that speaks garbage is not worth keeping
      return
    }
    switch (frame.type) {
      case FrameType.HANDSHAKE:
        if (frame.version !== WIRE_VERSION) this.destroy()
        break
      case FrameType.HAVE:
        if (this.#have.set(frame.resourceId, frame.chunkCount, frame.bitfield) !== undefined) {
          this.destroy() // a HAVE that contradicts the manifest: not a peer worth keeping
          return
        }
        this.emit('have', { resourceId: frame.resourceId })
        break
      case FrameType.FETCHING:
        if (this.#fetching.set(frame.resourceId, frame.chunkCount, frame.bitfield) !== undefined) {
          this.destroy() // as for a HAVE: a claim that contradicts the manifest
          return
        }
        // Wakes fetches deciding whether to wait for this peer or go to HTTP.
        this.emit('have', { resourceId: frame.resourceId })
        break
      case FrameType.HAVE_END:
        this.haveComplete = true
        this.emit('have', { resourceId: undefined })
        break
      case FrameType.REQUEST:
        void this.#serve(frame.requestId, frame.resourceId, frame.index)
        break
      case FrameType.CANCEL:
        // Only what is being sent can be cancelled: made-up ids must not grow the set.
        if (this.#serving.has(frame.requestId)) this.#cancelled.add(frame.requestId)
        break
      case FrameType.ABSENT: {
        const p = this.#pending.get(frame.requestId)
        if (p === undefined) break
        this.#have.clear(p.resourceId) // it lied about holding it, or evicted it
        this.#end(frame.requestId, 'ERR_PROTOCOL', 'peer does not have the chunk', false)
        break
      }
      case FrameType.DATA:
        this.#onChunkData(frame.requestId, frame.offset, frame.bytes)
        break
    }
  }

  #onChunkData(requestId: number, offset: number, bytes: Uint8Array): void {
    const p = this.#pending.get(requestId)
    if (p === undefined) return // late data of a request we gave up on
    // Frames travel in order on a reliable channel; anything else is a broken peer.
    if (offset !== p.received || offset + bytes.length > p.buffer.length) {
      this.destroy()
      return
    }
    if (offset === 0) this.firstByteMs = performance.now() - p.started
    p.buffer.set(bytes, offset)
    p.received += bytes.length
    if (p.received < p.buffer.length) {
      p.onData?.(p.received)
      return
    }
    this.#pending.delete(requestId)
    p.resolve(p.buffer)
  }

  /**
   * Send a chunk the peer asked for, or ABSENT: when we lack it, when this peer already
   * has MAX_REQUESTS_IN_FLIGHT of its requests being sent, or when it was sent this chunk
   * MAX_SENDS_PER_CHUNK times. Each piece waits for this peer's cap, then the visitor's.
   */
  async #serve(requestId: number, resourceId: string, index: number): Promise<void> {
    const key = `${resourceId}:${index}`
    const sends = this.#options.sends.get(key) ?? 0
    if (this.#serving.size >= MAX_REQUESTS_IN_FLIGHT || this.#serving.has(requestId) || sends >= MAX_SENDS_PER_CHUNK) {
      this.#send({ type: FrameType.ABSENT, requestId })
      return
    }
    this.#serving.add(requestId)
    // Counted before reading the chunk, so that concurrent asks for it see each other.
    this.#options.sends.set(key, sends + 1)
    try {
      const bytes = await this.#options.provide(resourceId, index).catch(() => undefined)
      if (bytes === undefined) {
        // Kept only for chunks we hold, so the map is bounded by what we hold.
        const now = (this.#options.sends.get(key) ?? 1) - 1
        if (now === 0) this.#options.sends.delete(key)
        else this.#options.sends.set(key, now)
        this.#send({ type: FrameType.ABSENT, requestId })
        return
      }
      for (let offset = 0; offset < bytes.length; offset += DATA_FRAME_PAYLOAD_BYTES) {
        const piece = bytes.subarray(offset, offset + DATA_FRAME_PAYLOAD_BYTES)
        await this.#bucket.take(piece.length)
        await this.#options.throttle(piece.length)
        if (this.#destroyed || this.#cancelled.delete(requestId)) return
        if (this.#sp.bufferSize > HIGH_WATER_BYTES) await this.#drained()
        this.#send({ type: FrameType.DATA, requestId, offset, bytes: piece })
        this.emit('uploaded', piece.length)
      }
    } finally {
      this.#serving.delete(requestId)
      this.#cancelled.delete(requestId)
    }
  }

  async #drained(): Promise<void> {
    // simple-peer keeps the channel private; its bufferedAmountLowThreshold is 64 KiB.
    const channel = (this.#sp as unknown as { _channel?: RTCDataChannel })._channel
    if (channel === undefined) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        channel.removeEventListener('bufferedamountlow', done)
        resolve()
      }
      const timer = setTimeout(done, 1000)
      channel.addEventListener('bufferedamountlow', done)
    })
  }
}

/** The prefix a failed peer request left behind, if any. */
export function receivedOf(err: unknown): Uint8Array {
  const received = (err as { received?: unknown } | null)?.received
  return received instanceof Uint8Array ? received : new Uint8Array(0)
}
