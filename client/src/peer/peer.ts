import type SimplePeer from 'simple-peer'
import {
  bitfieldHas, decodeFrame, encodeFrame, FrameType, PROTOCOL_VERSION, DATA_FRAME_PAYLOAD_BYTES,
  CdnError, type Frame
} from '../../../protocol/src/index.js'
import { Emitter } from '../events.js'

/** What a peer may ask of us. Returns verified bytes, or undefined when we will not send. */
export type ChunkProvider = (resourceId: string, index: number) => Promise<Uint8Array | undefined>

export interface PeerOptions {
  provide: ChunkProvider
  /** Resolves when `bytes` more may be uploaded (the visitor's upload cap). */
  throttle: (bytes: number) => Promise<void>
  /** Everything we hold, sent right after the handshake. */
  holdings: Array<{ resourceId: string, chunkCount: number, bitfield: Uint8Array }>
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
  constructor (code: 'ERR_TIMEOUT' | 'ERR_PROTOCOL' | 'ERR_ABORTED', message: string, readonly received: Uint8Array) {
    super(code, message)
    this.name = 'PeerRequestError'
  }
}

interface PendingRequest {
  resourceId: string
  index: number
  buffer: Uint8Array
  received: number
  timeoutMs: number
  /** Stall timeout, restarted on every DATA frame. */
  timer: ReturnType<typeof setTimeout>
  resolve: (bytes: Uint8Array) => void
  reject: (err: Error) => void
}

/**
 * Stop queueing DATA frames above this many buffered bytes and wait for the channel to
 * drain: the raw channel with this backpressure is about 1.5x faster than
 * simple-peer's stream `write()` (shared/CHROMIUM.md).
 */
const HIGH_WATER_BYTES = 1024 * 1024

/** One connected peer: the wire protocol over a simple-peer data channel. */
export class Peer extends Emitter<PeerEvents> {
  readonly #sp: SimplePeer.Instance
  readonly #options: PeerOptions
  readonly #pending = new Map<number, PendingRequest>()
  readonly #cancelled = new Set<number>()
  readonly #have = new Map<string, Uint8Array>()
  #nextRequestId = 1
  #destroyed = false
  /** True once the peer sent HAVE_END: we know all it held when it connected. */
  haveComplete = false
  /** Bytes per millisecond of the last completed request, for choosing faster peers. */
  throughput = 0
  /** When the data channel opened (`performance.now()`). */
  readonly openedAt = performance.now()

  constructor (readonly id: string, readonly region: string, sp: SimplePeer.Instance, options: PeerOptions) {
    super()
    this.#sp = sp
    this.#options = options
    sp.on('data', (data: Uint8Array) => this.#onData(data))
    sp.on('close', () => this.destroy())
    sp.on('error', () => this.destroy())
    this.#send({ type: FrameType.HANDSHAKE, version: PROTOCOL_VERSION })
    for (const h of options.holdings) this.sendHave(h.resourceId, h.chunkCount, h.bitfield)
    this.#send({ type: FrameType.HAVE_END })
  }

  get destroyed (): boolean {
    return this.#destroyed
  }

  /** Requests in flight to this peer. */
  get load (): number {
    return this.#pending.size
  }

  has (resourceId: string, index: number): boolean {
    const bitfield = this.#have.get(resourceId)
    return bitfield !== undefined && bitfieldHas(bitfield, index)
  }

  /** How many chunks of `resourceId` the peer announced. */
  heldCount (resourceId: string): number {
    let n = 0
    for (const byte of this.#have.get(resourceId) ?? []) for (let b = byte; b !== 0; b &= b - 1) n++
    return n
  }

  sendHave (resourceId: string, chunkCount: number, bitfield: Uint8Array): void {
    this.#send({ type: FrameType.HAVE, resourceId, chunkCount, bitfield })
  }

  /**
   * Ask for chunk `index` of `size` bytes. Rejects with a `PeerRequestError` carrying the
   * bytes received so far on ABSENT, a stall of `timeoutMs`, close, or `signal`.
   */
  async request (resourceId: string, index: number, size: number, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (this.#destroyed) throw new PeerRequestError('ERR_PROTOCOL', 'peer is gone', new Uint8Array(0))
    const requestId = this.#nextRequestId++
    const started = performance.now()
    const onAbort = (): void => this.#end(requestId, 'ERR_ABORTED', 'request aborted', true)
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const bytes = await new Promise<Uint8Array>((resolve, reject) => {
        this.#pending.set(requestId, {
          resourceId, index, buffer: new Uint8Array(size), received: 0, resolve, reject,
          timeoutMs,
          timer: setTimeout(() => this.#stall(requestId), timeoutMs)
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

  destroy (): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const id of [...this.#pending.keys()]) this.#end(id, 'ERR_PROTOCOL', 'peer closed', false)
    this.#sp.destroy()
    this.emit('close', undefined)
    this.removeAll()
  }

  #stall (requestId: number): void {
    const p = this.#pending.get(requestId)
    if (p !== undefined) this.#end(requestId, 'ERR_TIMEOUT', `peer sent nothing for ${p.timeoutMs} ms`, true)
  }

  /** Settle a pending request as failed, handing back the prefix that arrived. */
  #end (requestId: number, code: 'ERR_TIMEOUT' | 'ERR_PROTOCOL' | 'ERR_ABORTED', message: string, cancel: boolean): void {
    const p = this.#pending.get(requestId)
    if (p === undefined) return
    this.#pending.delete(requestId)
    clearTimeout(p.timer)
    if (cancel) this.#send({ type: FrameType.CANCEL, requestId })
    const received = p.buffer.subarray(0, p.received)
    p.reject(new PeerRequestError(code, message, received))
  }

  #send (frame: Frame): void {
    if (this.#destroyed || !this.#sp.connected) return
    try {
      this.#sp.send(encodeFrame(frame))
    } catch {
      this.destroy()
    }
  }

  #onData (data: Uint8Array): void {
    let frame: Frame
    try {
      frame = decodeFrame(data)
    } catch {
      this.destroy() // a peer that speaks garbage is not worth keeping
      return
    }
    switch (frame.type) {
      case FrameType.HANDSHAKE:
        if (frame.version !== PROTOCOL_VERSION) this.destroy()
        break
      case FrameType.HAVE:
        this.#have.set(frame.resourceId, frame.bitfield)
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
        this.#cancelled.add(frame.requestId)
        break
      case FrameType.ABSENT: {
        const p = this.#pending.get(frame.requestId)
        if (p === undefined) break
        this.#have.get(p.resourceId)?.fill(0) // it lied about holding it, or evicted it
        this.#end(frame.requestId, 'ERR_PROTOCOL', 'peer does not have the chunk', false)
        break
      }
      case FrameType.DATA:
        this.#onChunkData(frame.requestId, frame.offset, frame.bytes)
        break
    }
  }

  #onChunkData (requestId: number, offset: number, bytes: Uint8Array): void {
    const p = this.#pending.get(requestId)
    if (p === undefined) return // late data of a request we gave up on
    // Frames travel in order on a reliable channel; anything else is a broken peer.
    if (offset !== p.received || offset + bytes.length > p.buffer.length) {
      this.destroy()
      return
    }
    p.buffer.set(bytes, offset)
    p.received += bytes.length
    // Browsers' timers have no refresh(): restart it.
    clearTimeout(p.timer)
    if (p.received < p.buffer.length) {
      p.timer = setTimeout(() => this.#stall(requestId), p.timeoutMs)
      return
    }
    this.#pending.delete(requestId)
    p.resolve(p.buffer)
  }

  async #serve (requestId: number, resourceId: string, index: number): Promise<void> {
    const bytes = await this.#options.provide(resourceId, index).catch(() => undefined)
    if (bytes === undefined) {
      this.#send({ type: FrameType.ABSENT, requestId })
      return
    }
    for (let offset = 0; offset < bytes.length; offset += DATA_FRAME_PAYLOAD_BYTES) {
      const piece = bytes.subarray(offset, offset + DATA_FRAME_PAYLOAD_BYTES)
      await this.#options.throttle(piece.length)
      if (this.#destroyed || this.#cancelled.delete(requestId)) return
      if (this.#sp.bufferSize > HIGH_WATER_BYTES) await this.#drained()
      this.#send({ type: FrameType.DATA, requestId, offset, bytes: piece })
      this.emit('uploaded', piece.length)
    }
    this.#cancelled.delete(requestId)
  }

  async #drained (): Promise<void> {
    // simple-peer keeps the channel private; its bufferedAmountLowThreshold is 64 KiB.
    const channel = (this.#sp as unknown as { _channel?: RTCDataChannel })._channel
    if (channel === undefined) return
    await new Promise<void>(resolve => {
      const done = (): void => { clearTimeout(timer); channel.removeEventListener('bufferedamountlow', done); resolve() }
      const timer = setTimeout(done, 1000)
      channel.addEventListener('bufferedamountlow', done)
    })
  }
}

/** The prefix a failed peer request left behind, if any. */
export function receivedOf (err: unknown): Uint8Array {
  const received = (err as { received?: unknown } | null)?.received
  return received instanceof Uint8Array ? received : new Uint8Array(0)
}
