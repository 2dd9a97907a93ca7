import type SimplePeer from 'simple-peer'
import {
  bitfieldHas, decodeFrame, encodeFrame, FrameType, PROTOCOL_VERSION, DATA_FRAME_PAYLOAD_BYTES,
  CdnError, TimeoutError, type Frame
} from '../../../protocol/src/index.js'
import { Emitter } from '../events.js'

/** What a peer may ask of us. Returns verified bytes, or undefined when we will not send. */
export type ChunkProvider = (resourceId: string, index: number) => Promise<Uint8Array | undefined>

export interface PeerEvents {
  /** The peer announced (more) chunks of a resource. */
  have: { resourceId: string }
  close: undefined
  /** Bytes we sent to this peer. */
  uploaded: number
}

interface PendingRequest {
  resourceId: string
  index: number
  buffer: Uint8Array
  received: number
  /** Stall timeout, restarted on every DATA frame. */
  timeoutMs: number
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
  readonly #provide: ChunkProvider
  readonly #pending = new Map<number, PendingRequest>()
  readonly #cancelled = new Set<number>()
  readonly #have = new Map<string, Uint8Array>()
  #nextRequestId = 1
  #destroyed = false
  /** Bytes per millisecond of the last completed request, for choosing faster peers. */
  throughput = 0

  constructor (readonly id: string, readonly region: string, sp: SimplePeer.Instance, provide: ChunkProvider) {
    super()
    this.#sp = sp
    this.#provide = provide
    sp.on('data', (data: Uint8Array) => this.#onData(data))
    sp.on('close', () => this.destroy())
    sp.on('error', () => this.destroy())
    this.#send({ type: FrameType.HANDSHAKE, version: PROTOCOL_VERSION })
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

  sendHave (resourceId: string, chunkCount: number, bitfield: Uint8Array): void {
    this.#send({ type: FrameType.HAVE, resourceId, chunkCount, bitfield })
  }

  /** Ask for chunk `index` of `size` bytes. Rejects on ABSENT, a stall of `timeoutMs`, or close. */
  async request (resourceId: string, index: number, size: number, timeoutMs: number): Promise<Uint8Array> {
    if (this.#destroyed) throw new CdnError('ERR_PROTOCOL', 'peer is gone')
    const requestId = this.#nextRequestId++
    const started = Date.now()
    const bytes = await new Promise<Uint8Array>((resolve, reject) => {
      const pending: PendingRequest = {
        resourceId, index, buffer: new Uint8Array(size), received: 0, resolve, reject,
        timeoutMs,
        timer: setTimeout(() => this.#stall(requestId, timeoutMs), timeoutMs)
      }
      this.#pending.set(requestId, pending)
      this.#send({ type: FrameType.REQUEST, requestId, resourceId, index })
    })
    this.throughput = size / Math.max(1, Date.now() - started)
    return bytes
  }

  destroy (): void {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const [, p] of this.#pending) {
      clearTimeout(p.timer)
      p.reject(new CdnError('ERR_PROTOCOL', 'peer closed'))
    }
    this.#pending.clear()
    this.#sp.destroy()
    this.emit('close', undefined)
    this.removeAll()
  }

  #stall (requestId: number, timeoutMs: number): void {
    const p = this.#pending.get(requestId)
    if (p === undefined) return
    this.#pending.delete(requestId)
    this.#send({ type: FrameType.CANCEL, requestId })
    p.reject(new TimeoutError(`peer sent nothing for ${timeoutMs} ms`))
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
      case FrameType.REQUEST:
        void this.#serve(frame.requestId, frame.resourceId, frame.index)
        break
      case FrameType.CANCEL:
        this.#cancelled.add(frame.requestId)
        break
      case FrameType.ABSENT: {
        const p = this.#pending.get(frame.requestId)
        if (p === undefined) break
        this.#pending.delete(frame.requestId)
        clearTimeout(p.timer)
        this.#have.get(p.resourceId)?.fill(0) // it lied about holding it, or evicted it
        p.reject(new CdnError('ERR_PROTOCOL', 'peer does not have the chunk'))
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
    if (offset + bytes.length > p.buffer.length) {
      this.destroy()
      return
    }
    p.buffer.set(bytes, offset)
    p.received += bytes.length
    // Browsers' timers have no refresh(): restart it.
    clearTimeout(p.timer)
    p.timer = setTimeout(() => this.#stall(requestId, p.timeoutMs), p.timeoutMs)
    if (p.received >= p.buffer.length) {
      this.#pending.delete(requestId)
      clearTimeout(p.timer)
      p.resolve(p.buffer)
    }
  }

  async #serve (requestId: number, resourceId: string, index: number): Promise<void> {
    const bytes = await this.#provide(resourceId, index).catch(() => undefined)
    if (bytes === undefined) {
      this.#send({ type: FrameType.ABSENT, requestId })
      return
    }
    for (let offset = 0; offset < bytes.length; offset += DATA_FRAME_PAYLOAD_BYTES) {
      if (this.#destroyed || this.#cancelled.delete(requestId)) return
      if (this.#sp.bufferSize > HIGH_WATER_BYTES) await this.#drained()
      const piece = bytes.subarray(offset, offset + DATA_FRAME_PAYLOAD_BYTES)
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
