/**
 * A real hostile peer for browser tests: a Node process member of a swarm, reached by
 * the page through the real tracker and a real WebRTC data channel, speaking the p2pcdn
 * wire protocol. One object per test, its behaviour chosen by `mode`:
 * - `honest`: claims every chunk and serves the right bytes at full speed (the baseline);
 * - `drip`: claims every chunk, answers each REQUEST with the right bytes but one byte
 *   per DATA frame every `dripIntervalMs` (under the SDK's 4 s stall timeout);
 * - `silent`: claims every chunk, never answers a REQUEST;
 * - `have-flood`: announces `flood.frames` HAVEs of made-up resources with big bitfields;
 * - `replay`: offers itself to a page holding `resources[0]` and asks for its first
 *   chunks over and over, counting what comes back;
 * - `fetching-liar`: holds nothing, and claims (FETCHING) every chunk of `resources`
 *   again every `claimIntervalMs`, so that a page waits for a HAVE that never comes.
 * Every loop is bounded in count and in time; everything stays on this machine.
 */
import { createHash, randomBytes } from 'node:crypto'
import type SimplePeer from 'simple-peer'
import {
  bitfieldOf,
  chunkBounds,
  DATA_FRAME_PAYLOAD_BYTES,
  decodeFrame,
  encodeFrame,
  FrameType,
  parseManifest,
  WIRE_VERSION,
  resourceId,
  type AnswerForward,
  type Frame,
  type Manifest,
  type OfferForward
} from '../../../protocol/src/index.js'
import { drained, firstSdp, nodePeer } from './node-rtc.js'
import { TrackerSignaller } from './tracker-signaller.js'

export type HostileMode = 'honest' | 'drip' | 'silent' | 'have-flood' | 'replay' | 'fetching-liar'

/** A resource as the peer knows it: its manifest, and its bytes when it serves them. */
export interface HostileResource {
  id: string
  manifest: Manifest
  body?: Uint8Array
}

export interface HostilePeerInit {
  tracker: string
  swarm: string
  mode: HostileMode
  resources: HostileResource[]
  /** @default 'eu' (the region of startCdnEnv's edges, so pages count this peer as local) */
  region?: string
  /** @default 3000 */
  dripIntervalMs?: number
  /** The drip stops after this long whatever is still asked for. @default 120_000 */
  dripLimitMs?: number
  /** @default { frames: 4000, bitfieldBytes: 60_000, timeLimitMs: 45_000 } */
  flood?: { frames?: number; bitfieldBytes?: number; timeLimitMs?: number }
  /** Claims are renewed this often (under the 5 s they count for), for `claimLimitMs`. @default 2000, 60_000 */
  claimIntervalMs?: number
  claimLimitMs?: number
  /** @default { chunks: 32, rounds: 400, window: 64, timeLimitMs: 25_000 } */
  replay?: { chunks?: number; rounds?: number; window?: number; timeLimitMs?: number }
}

/** What the peer saw and did; read at any time. */
export interface HostileCounters {
  requestsSeen: number
  cancelsSeen: number
  /** Payload bytes of DATA frames sent. */
  dataBytesSent: number
  framesSent: number
  /** Payload bytes of DATA frames received (replay). */
  dataBytesReceived: number
  chunksReceived: number
  absentsReceived: number
  /** The page closed the data channel (not us stopping). */
  closedByPage: boolean
}

export interface FloodResult {
  framesSent: number
  bytesSent: number
  ms: number
  stoppedEarly: boolean
}
export interface ReplayResult {
  requestsSent: number
  chunksReceived: number
  absents: number
  bytesReceived: number
  /** Requests with neither the whole chunk nor ABSENT back when the replay ended. */
  unanswered: number
  ms: number
  /** The time limit, not the page, ended the replay before all requests went out. */
  timedOut: boolean
}

/** Queue at most this much on the channel before waiting for it to drain. */
const HIGH_WATER_BYTES = 1024 * 1024
const SIGNAL_TIMEOUT_MS = 5000
const CONNECT_TIMEOUT_MS = 15_000

/**
 * Fetch a resource's manifest from an edge as the SDK would and derive its id;
 * `url` is the absolute URL the page fetches.
 */
export async function resourceAt(edgeUrl: string, url: string, body?: Uint8Array): Promise<HostileResource> {
  const res = await fetch(`${edgeUrl}/_p2pcdn/manifest?url=${encodeURIComponent(url)}`)
  if (!res.ok) throw new Error(`manifest of ${url}: HTTP ${res.status}`)
  const manifest = parseManifest(await res.text())
  const id = await resourceId(manifest, data =>
    Promise.resolve(new Uint8Array(createHash('sha256').update(data).digest()))
  )
  return { id, manifest, ...(body === undefined ? {} : { body }) }
}

function chunkCountOf(m: Manifest): number {
  return m.chunks.length
}

interface Replaying {
  size: number
  received: number
}

export class HostilePeer {
  readonly counters: HostileCounters = {
    requestsSeen: 0,
    cancelsSeen: 0,
    dataBytesSent: 0,
    framesSent: 0,
    dataBytesReceived: 0,
    chunksReceived: 0,
    absentsReceived: 0,
    closedByPage: false
  }

  /** Resolves when the data channel to a page opens; rejects after 15 s. */
  readonly connected: Promise<void>
  /** Resolves when the page closes the channel. */
  readonly closed: Promise<void>

  readonly #init: HostilePeerInit
  readonly #signaller: TrackerSignaller
  #sp: SimplePeer.Instance | undefined
  /** Connections being set up: the one answering a page's offer, or our own offer. */
  readonly #attempts = new Set<SimplePeer.Instance>()
  readonly #offers = new Map<string, SimplePeer.Instance>()
  readonly #dripping = new Map<number, { bytes: Uint8Array; offset: number }>()
  readonly #replaying = new Map<number, Replaying>()
  /** Round trips waiting for their ABSENT, by request id (see `roundTrip`). */
  readonly #roundTrips = new Map<number, () => void>()
  #nextRoundTrip = 0x7fff0000
  readonly #pageHas = new Set<string>()
  #dripTimer: ReturnType<typeof setInterval> | undefined
  #claimTimer: ReturnType<typeof setInterval> | undefined
  #stopping = false
  #onConnected!: () => void
  #onClosed!: () => void
  #pageHave: (() => void) | undefined

  constructor(init: HostilePeerInit) {
    this.#init = init
    this.#signaller = new TrackerSignaller({
      tracker: init.tracker,
      swarm: init.swarm,
      region: init.region ?? 'eu',
      onOffer: msg => {
        void this.#answer(msg)
      },
      onAnswer: msg => this.#onAnswer(msg)
    })
    let connectTimer: ReturnType<typeof setTimeout>
    this.connected = new Promise<void>((resolve, reject) => {
      this.#onConnected = () => {
        clearTimeout(connectTimer)
        resolve()
      }
      connectTimer = setTimeout(
        () => reject(new Error(`hostile peer (${init.mode}) not connected within ${CONNECT_TIMEOUT_MS} ms`)),
        CONNECT_TIMEOUT_MS
      )
    })
    this.connected.catch(() => {})
    this.closed = new Promise<void>(resolve => {
      this.#onClosed = resolve
    })
  }

  /**
   * Join the swarm. Without `offer` it waits for a page's offer (the page joins later
   * and its announce's offers reach us); with `offer` it offers itself to a page that is
   * in the swarm already (replay).
   */
  async start({ offer = false }: { offer?: boolean } = {}): Promise<void> {
    await this.#signaller.open()
    if (!offer) {
      this.#signaller.announce([], 'started')
      return
    }
    const sp = nodePeer(true)
    this.#attempts.add(sp)
    const sdp = await firstSdp(sp, SIGNAL_TIMEOUT_MS)
    if (sdp === undefined) throw new Error('hostile peer could not make an offer')
    const offerId = randomBytes(20).toString('latin1')
    this.#offers.set(offerId, sp)
    this.#signaller.announce([{ offer: { type: 'offer', sdp }, offer_id: offerId }], 'started')
  }

  /** Send raw bytes on the channel (malformed frames). */
  sendRaw(bytes: Uint8Array): void {
    this.#write(bytes)
  }

  /** Close everything; safe to call twice. */
  async stop(): Promise<void> {
    this.#stopping = true
    clearInterval(this.#dripTimer)
    clearInterval(this.#claimTimer)
    this.#dripping.clear()
    for (const sp of this.#attempts) sp.destroy()
    this.#sp?.destroy()
    await this.#signaller.close()
  }

  async #answer(msg: OfferForward): Promise<void> {
    // One page per hostile peer: a second offer (or one from another page) is ignored.
    if (this.#sp !== undefined || this.#attempts.size > 0 || this.#stopping) return
    const sp = nodePeer(false)
    this.#attempts.add(sp)
    this.#watch(sp)
    sp.signal(msg.offer)
    const sdp = await firstSdp(sp, SIGNAL_TIMEOUT_MS)
    if (sdp !== undefined) this.#signaller.answer(msg, sdp)
  }

  #onAnswer(msg: AnswerForward): void {
    const sp = this.#offers.get(msg.offer_id)
    if (sp === undefined || this.#sp !== undefined) return
    this.#offers.delete(msg.offer_id)
    this.#watch(sp)
    sp.signal(msg.answer)
  }

  #watch(sp: SimplePeer.Instance): void {
    sp.once('connect', () => {
      this.#attempts.delete(sp)
      if (this.#sp !== undefined || this.#stopping) {
        sp.destroy()
        return
      }
      this.#sp = sp
      sp.on('data', (data: Uint8Array) => this.#onData(data))
      sp.once('close', () => {
        clearInterval(this.#dripTimer)
        clearInterval(this.#claimTimer)
        if (!this.#stopping) this.counters.closedByPage = true
        this.#onClosed()
      })
      this.#opened()
      this.#onConnected()
    })
    // A failed attempt must not make us ignore the next page's offer.
    sp.once('close', () => this.#attempts.delete(sp))
    sp.on('error', () => sp.destroy())
  }

  /** What each mode does once the channel is open. */
  #opened(): void {
    const { mode, resources } = this.#init
    this.#send({ type: FrameType.HANDSHAKE, version: WIRE_VERSION })
    if (mode === 'honest' || mode === 'drip' || mode === 'silent') {
      for (const r of resources) {
        const count = chunkCountOf(r.manifest)
        this.#send({
          type: FrameType.HAVE,
          resourceId: r.id,
          chunkCount: count,
          bitfield: bitfieldOf(
            count,
            Array.from({ length: count }, (_, i) => i)
          )
        })
      }
    }
    this.#send({ type: FrameType.HAVE_END })
    if (mode === 'fetching-liar') {
      const claim = (): void => {
        for (const r of resources) {
          const count = chunkCountOf(r.manifest)
          const all = Array.from({ length: count }, (_, i) => i)
          this.#send({
            type: FrameType.FETCHING,
            resourceId: r.id,
            chunkCount: count,
            bitfield: bitfieldOf(count, all)
          })
        }
      }
      claim()
      const until = Date.now() + (this.#init.claimLimitMs ?? 60_000)
      this.#claimTimer = setInterval(() => {
        if (Date.now() > until) clearInterval(this.#claimTimer)
        else claim()
      }, this.#init.claimIntervalMs ?? 2000)
    }
    if (mode === 'drip') {
      const until = Date.now() + (this.#init.dripLimitMs ?? 120_000)
      this.#dripTimer = setInterval(() => {
        if (Date.now() > until) clearInterval(this.#dripTimer)
        else this.#drip()
      }, this.#init.dripIntervalMs ?? 3000)
    }
  }

  #onData(data: Uint8Array): void {
    let frame: Frame
    try {
      frame = decodeFrame(data)
    } catch {
      return
    }
    switch (frame.type) {
      case FrameType.REQUEST:
        this.counters.requestsSeen++
        this.#onRequest(frame.requestId, frame.resourceId, frame.index)
        break
      case FrameType.CANCEL:
        this.counters.cancelsSeen++
        this.#dripping.delete(frame.requestId)
        break
      case FrameType.HAVE:
        this.#pageHas.add(frame.resourceId)
        this.#pageHave?.()
        break
      case FrameType.DATA: {
        this.counters.dataBytesReceived += frame.bytes.length
        const r = this.#replaying.get(frame.requestId)
        if (r === undefined) break
        r.received += frame.bytes.length
        if (r.received >= r.size) {
          this.#replaying.delete(frame.requestId)
          this.counters.chunksReceived++
        }
        break
      }
      case FrameType.ABSENT: {
        const roundTrip = this.#roundTrips.get(frame.requestId)
        if (roundTrip !== undefined) {
          this.#roundTrips.delete(frame.requestId)
          roundTrip()
          break
        }
        if (this.#replaying.delete(frame.requestId)) this.counters.absentsReceived++
        break
      }
      default:
        break
    }
  }

  #chunkOf(id: string, index: number): Uint8Array | undefined {
    const r = this.#init.resources.find(x => x.id === id)
    if (r?.body === undefined || index >= chunkCountOf(r.manifest)) return undefined
    const { start, end } = chunkBounds(r.manifest, index)
    return r.body.subarray(start, end)
  }

  #onRequest(requestId: number, id: string, index: number): void {
    const mode = this.#init.mode
    if (mode === 'silent') return
    const bytes = this.#chunkOf(id, index)
    if (bytes === undefined || (mode !== 'honest' && mode !== 'drip')) {
      this.#send({ type: FrameType.ABSENT, requestId })
      return
    }
    if (mode === 'drip') this.#dripping.set(requestId, { bytes, offset: 0 })
    else void this.#serve(requestId, bytes)
  }

  async #serve(requestId: number, bytes: Uint8Array): Promise<void> {
    const sp = this.#sp
    if (sp === undefined) return
    const deadline = Date.now() + 30_000
    for (let offset = 0; offset < bytes.length; offset += DATA_FRAME_PAYLOAD_BYTES) {
      if (!(await drained(sp, HIGH_WATER_BYTES, deadline))) return
      const piece = bytes.subarray(offset, offset + DATA_FRAME_PAYLOAD_BYTES)
      if (this.#send({ type: FrameType.DATA, requestId, offset, bytes: piece }))
        this.counters.dataBytesSent += piece.length
    }
  }

  /** One byte more of every request asked for; a request ends when its chunk has gone. */
  #drip(): void {
    for (const [requestId, d] of this.#dripping) {
      if (
        this.#send({
          type: FrameType.DATA,
          requestId,
          offset: d.offset,
          bytes: d.bytes.subarray(d.offset, d.offset + 1)
        })
      ) {
        this.counters.dataBytesSent++
      }
      if (++d.offset >= d.bytes.length) this.#dripping.delete(requestId)
    }
  }

  /** have-flood: send the HAVEs now (the test measures the tab before and after). */
  /**
   * A round trip on the data channel, which is ordered: a REQUEST for a resource nobody
   * has, which the page answers with ABSENT only once it has taken every earlier frame
   * off the channel. False when the channel closed first or nothing came in `timeoutMs`.
   */
  async roundTrip(timeoutMs = 10_000): Promise<boolean> {
    const requestId = this.#nextRoundTrip++
    return await new Promise<boolean>(resolve => {
      const done = (ok: boolean): void => {
        clearTimeout(timer)
        this.#roundTrips.delete(requestId)
        resolve(ok)
      }
      const timer = setTimeout(() => done(false), timeoutMs)
      this.#roundTrips.set(requestId, () => done(true))
      void this.closed.then(() => done(false))
      this.#send({ type: FrameType.REQUEST, requestId, resourceId: randomBytes(32).toString('hex'), index: 0 })
    })
  }

  async flood(): Promise<FloodResult> {
    const sp = this.#sp
    if (sp === undefined) throw new Error('flood before the channel opened')
    const frames = this.#init.flood?.frames ?? 4000
    const bitfieldBytes = this.#init.flood?.bitfieldBytes ?? 60_000
    const started = Date.now()
    const deadline = started + (this.#init.flood?.timeLimitMs ?? 45_000)
    const bitfield = new Uint8Array(bitfieldBytes).fill(0xff)
    let framesSent = 0
    let bytesSent = 0
    for (let i = 0; i < frames; i++) {
      if (!(await drained(sp, HIGH_WATER_BYTES, deadline))) break
      const frame = encodeFrame({
        type: FrameType.HAVE,
        resourceId: randomBytes(32).toString('hex'),
        chunkCount: bitfieldBytes * 8,
        bitfield
      })
      if (!this.#write(frame)) break
      framesSent++
      bytesSent += frame.length
    }
    // Wait for what was queued to leave, so the page has it all before it is measured.
    await drained(sp, 0, deadline)
    return { framesSent, bytesSent, ms: Date.now() - started, stoppedEarly: framesSent < frames }
  }

  /**
   * replay: ask for the first `chunks` chunks of resources[0], `rounds` times each, with
   * at most `window` requests unanswered; then wait (bounded) for the last answers.
   */
  async replay(): Promise<ReplayResult> {
    const target = this.#init.resources[0]
    if (target === undefined) throw new Error('replay needs a resource')
    const { chunks = 32, rounds = 400, window = 64, timeLimitMs = 25_000 } = this.#init.replay ?? {}
    const started = Date.now()
    const deadline = started + timeLimitMs
    // The page announces its holdings right after the handshake; ask only once it has.
    if (!this.#pageHas.has(target.id)) {
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, 5000)
        this.#pageHave = () => {
          if (this.#pageHas.has(target.id)) {
            clearTimeout(timer)
            resolve()
          }
        }
      })
    }
    let requestsSent = 0
    let requestId = 1
    let cut = false
    const count = Math.min(chunks, chunkCountOf(target.manifest))
    const open = (): boolean => this.#sp !== undefined && !this.#sp.destroyed
    outer: for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < count; index++) {
        while (this.#replaying.size >= window) {
          if (!open() || Date.now() > deadline) {
            cut = open()
            break outer
          }
          await new Promise(resolve => setTimeout(resolve, 2))
        }
        if (!open() || Date.now() > deadline) {
          cut = open()
          break outer
        }
        const { start, end } = chunkBounds(target.manifest, index)
        this.#replaying.set(requestId, { size: end - start, received: 0 })
        this.#send({ type: FrameType.REQUEST, requestId: requestId++, resourceId: target.id, index })
        requestsSent++
      }
    }
    const tail = Math.min(deadline + 5000, Date.now() + 5000)
    while (this.#replaying.size > 0 && open() && Date.now() < tail)
      await new Promise(resolve => setTimeout(resolve, 10))
    return {
      requestsSent,
      chunksReceived: this.counters.chunksReceived,
      absents: this.counters.absentsReceived,
      bytesReceived: this.counters.dataBytesReceived,
      unanswered: this.#replaying.size,
      ms: Date.now() - started,
      timedOut: cut
    }
  }

  #send(frame: Frame): boolean {
    return this.#write(encodeFrame(frame))
  }

  #write(bytes: Uint8Array): boolean {
    const sp = this.#sp
    if (sp === undefined || sp.destroyed || !sp.connected) return false
    try {
      sp.send(bytes)
      this.counters.framesSent++
      return true
    } catch {
      return false
    }
  }
}
