import SimplePeer from 'simple-peer'
import {
  binaryStringToHex,
  toBinaryString,
  type AnnounceEvent,
  type AnswerForward,
  type OfferForward
} from '../../../protocol/src/index.js'
import { Emitter } from '../events.js'
import type { TrackerClient } from '../tracker-client.js'
import { Peer, type ChunkProvider } from './peer.js'

export interface SwarmInit {
  tracker: TrackerClient
  /** 20-character binary string. */
  infoHash: string
  /** 20-character binary string. */
  peerId: string
  region: () => string | undefined
  maxPeers: number
  iceServers: RTCIceServer[]
  provide: ChunkProvider
  /** Resolves when `bytes` more may be uploaded (the visitor's upload cap). */
  throttle: (bytes: number) => Promise<void>
  /** Each peer's own upload cap in bytes per second, besides `throttle`'s total; 0 = none. */
  peerUploadBytesPerSecond: number
  /** Chunk count of our manifest for a resource (undefined: none), to bound and check peers' HAVEs. */
  chunksOf: (resourceId: string) => number | undefined
  /** Everything we hold, sent as HAVE frames to each new peer. */
  holdings: () => Array<{ resourceId: string; chunkCount: number; bitfield: Uint8Array }>
}

export interface SwarmEvents {
  peer: { id: string; region: string; connected: boolean }
  /** A peer announced chunks, or finished its first HAVEs (`resourceId` undefined). */
  have: { peer: Peer; resourceId: string | undefined }
  uploaded: number
  /** A WebRTC connection attempt with a peer settled: connected, or never did. */
  attempt: boolean
}

/** Offers sent per announce, as bittorrent-tracker's client caps it. */
const MAX_OFFERS_PER_ANNOUNCE = 5
/** An offer nobody answered is dropped after this long (bittorrent-tracker uses 50 s). */
const OFFER_TIMEOUT_MS = 50_000
const SIGNAL_TIMEOUT_MS = 5000
/**
 * Peer ids whose sends per chunk are remembered. Each map is bounded by the chunks we
 * hold; ids beyond this (oldest first) are forgotten, which a Sybil could use to get
 * fresh copies, at the cost of a new id and a new connection each time.
 */
const SENDS_PEERS = 256
/**
 * Refused announces in a row after which the wait before asking again stops doubling:
 * the tracker's interval, then 2x, 4x, 8x it. A refusal (swarm full, rate limited) is
 * not answered by asking again at once.
 */
const MAX_REFUSAL_DOUBLINGS = 3

/**
 * Our membership in one swarm: announces with fresh offers, answers offers relayed by the
 * tracker, and keeps the connected peers within the budget.
 */
export class Swarm extends Emitter<SwarmEvents> {
  readonly peers = new Map<string, Peer>()
  /** Our peer id as hex, the form peers know us by. */
  readonly id: string
  readonly #init: SwarmInit
  readonly #pendingOffers = new Map<string, SimplePeer.Instance>()
  /** Peers connecting through an offer we answered, by their hex id. */
  readonly #answering = new Map<string, SimplePeer.Instance>()
  /** Peers connecting through an answer to one of our offers. */
  readonly #connecting = new Set<SimplePeer.Instance>()
  readonly #banned = new Set<string>()
  /** Chunks sent to each peer id this session (see `PeerOptions.sends`), the oldest ids dropped past SENDS_PEERS. */
  readonly #sends = new Map<string, Map<string, number>>()
  /** Last sign of life of each connection attempt (`performance.now()`): made, answered. */
  readonly #lastSign = new WeakMap<SimplePeer.Instance, number>()
  readonly #unsubscribe: Array<() => void> = []
  #announceTimer: ReturnType<typeof setTimeout> | undefined
  #intervalMs = 120_000
  #destroyed = false
  /**
   * Other peers in the swarm according to the last announce reply. Only a count: ids
   * anyone may announce, so a fetch never waits on it alone (see `attemptsSince`).
   */
  others = 0
  announced = false
  /** When we last sent an announce (`performance.now()`); construction time before any. */
  announcedAt = performance.now()

  constructor(init: SwarmInit) {
    super()
    this.#init = init
    this.id = binaryStringToHex(init.peerId)
    const t = init.tracker
    this.#unsubscribe.push(
      t.on('open', () => {
        void this.announce('started')
      }),
      t.on('offer', msg => {
        if (msg.info_hash === init.infoHash) this.#onOffer(msg)
      }),
      t.on('answer', msg => {
        if (msg.info_hash === init.infoHash) this.#onAnswer(msg)
      }),
      t.on('failure', msg => {
        // Ours when it echoes our swarm, or names none (a tracker that echoes nothing).
        if (msg.action === 'announce' && (msg.info_hash ?? init.infoHash) === init.infoHash) this.#onRefused()
      }),
      t.on('announce', msg => {
        if (msg.info_hash !== init.infoHash) return
        this.#refusals = 0
        this.#member = true
        this.others = Math.max(0, msg.complete + msg.incomplete - 1)
        this.announced = true
        this.#intervalMs = msg.interval * 1000
        this.#scheduleAnnounce()
        // Joined: offers go out only if someone is there to take them. Alone, we make
        // none (an RTCPeerConnection each, a burst of main-thread work while the page
        // loads): whoever comes next offers to us, and the next regular announce offers.
        if (this.#joining) {
          this.#joining = false
          if (this.others > 0) void this.announce()
        }
      })
    )
    if (t.connected) void this.announce('started')
  }

  /** Connections being set up (offers answered either way), not yet usable. */
  get connecting(): number {
    return this.#answering.size + this.#connecting.size
  }

  /**
   * Connection attempts (offers we answer, answers being connected) whose last sign of
   * life was at or after `since`, our open offers made at or after `offeredSince`, and
   * offers being made now.
   * An announced peer id that never answers, or never completes ICE, drops out of this
   * once its attempt is older.
   */
  attemptsSince(since: number, offeredSince: number): number {
    const fresh = (sp: SimplePeer.Instance, after: number): boolean => (this.#lastSign.get(sp) ?? -Infinity) >= after
    // Offers being made (ICE gathering) are the freshest attempts of all.
    let n = this.#offering
    for (const sp of this.#pendingOffers.values()) if (fresh(sp, offeredSince)) n++
    for (const sp of [...this.#answering.values(), ...this.#connecting]) if (fresh(sp, since)) n++
    return n
  }

  /** RTCPeerConnections we hold: connected, connecting, and our open offers. */
  get connections(): number {
    return this.peers.size + this.connecting + this.#pendingOffers.size + this.#offering
  }

  /** Offers being created right now, counted so concurrent announces keep the budget. */
  #offering = 0
  /** Between our bare 'started' announce and its reply. */
  #joining = false

  /**
   * Announce with as many fresh offers as the budget allows. Joining ('started')
   * announces with none: making offers takes a few hundred ms (ICE gathering), and the
   * reply's count of others, which tells a fetch whether to wait for peers at all,
   * should not wait for them; the offers follow when the reply shows others.
   */
  async announce(event?: AnnounceEvent): Promise<void> {
    if (event === 'started') {
      this.#joining = true
      this.#send('started', [])
      return
    }
    const room = Math.min(MAX_OFFERS_PER_ANNOUNCE, Math.max(0, this.#init.maxPeers - this.connections))
    this.#offering += event === 'stopped' ? 0 : room
    const offers =
      event === 'stopped'
        ? []
        : await this.#makeOffers(room).finally(() => {
            this.#offering -= room
          })
    if (this.#destroyed && event !== 'stopped') return
    this.#send(event, offers)
  }

  #send(
    event: AnnounceEvent | undefined,
    offers: Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }>
  ): void {
    const { tracker, infoHash, peerId } = this.#init
    const region = this.#init.region()
    if (event !== 'stopped') this.announcedAt = performance.now()
    tracker.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: peerId,
      numwant: offers.length,
      ...(event === undefined ? {} : { event }),
      ...(region === undefined ? {} : { region }),
      offers
    })
  }

  /** Never connect to this peer again in this session (it sent a bad chunk). */
  ban(peer: Peer): void {
    this.#banned.add(peer.id)
    peer.destroy()
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    clearTimeout(this.#announceTimer)
    void this.announce('stopped')
    for (const off of this.#unsubscribe) off()
    for (const sp of this.#pendingOffers.values()) sp.destroy()
    for (const sp of this.#answering.values()) sp.destroy()
    for (const sp of this.#connecting) sp.destroy()
    for (const peer of this.peers.values()) peer.destroy()
    this.#pendingOffers.clear()
    this.#answering.clear()
    this.#connecting.clear()
    this.removeAll()
  }

  /** Refused announces in a row. */
  #refusals = 0
  /** An announce of ours was answered (not refused) on this tracker. */
  #member = false

  /**
   * The tracker refused our announce: that is an answer too, so no fetch waits for peers
   * it will not introduce, and we ask again after the interval, doubled for each refusal
   * in a row (MAX_REFUSAL_DOUBLINGS), never at once. The page hears of it as ERR_TRACKER.
   */
  #onRefused(): void {
    if (this.#destroyed) return
    this.announced = true
    this.others = 0
    this.#joining = false
    const backoff = 2 ** Math.min(this.#refusals++, MAX_REFUSAL_DOUBLINGS)
    // Not a member until an announce is answered: then ask to join again.
    this.#scheduleAnnounce(this.#intervalMs * backoff, this.#member ? undefined : 'started')
  }

  #scheduleAnnounce(delayMs = this.#intervalMs, event?: AnnounceEvent): void {
    clearTimeout(this.#announceTimer)
    this.#announceTimer = setTimeout(() => {
      void this.announce(event)
    }, delayMs)
  }

  #newPeer(initiator: boolean): SimplePeer.Instance {
    return new SimplePeer({ initiator, trickle: false, config: { iceServers: this.#init.iceServers } })
  }

  async #makeOffers(count: number): Promise<Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }>> {
    const made = await Promise.all(Array.from({ length: count }, async () => await this.#makeOffer()))
    return made.filter(o => o !== undefined)
  }

  async #makeOffer(): Promise<{ offer: { type: 'offer'; sdp: string }; offer_id: string } | undefined> {
    const sp = this.#newPeer(true)
    const offerId = randomBinaryId()
    const sdp = await new Promise<string | undefined>(resolve => {
      const timer = setTimeout(() => resolve(undefined), SIGNAL_TIMEOUT_MS)
      sp.once('signal', (data: SimplePeer.SignalData) => {
        clearTimeout(timer)
        resolve(sdpOf(data))
      })
      sp.once('error', () => {
        clearTimeout(timer)
        resolve(undefined)
      })
    })
    if (sdp === undefined || this.#destroyed) {
      sp.destroy()
      return undefined
    }
    this.#pendingOffers.set(offerId, sp)
    this.#lastSign.set(sp, performance.now())
    const expire = setTimeout(() => {
      if (this.#pendingOffers.get(offerId) === sp) this.#drop(offerId, sp)
    }, OFFER_TIMEOUT_MS)
    sp.once('close', () => {
      clearTimeout(expire)
      this.#drop(offerId, sp)
    })
    sp.once('error', () => {
      clearTimeout(expire)
      this.#drop(offerId, sp)
    })
    return { offer: { type: 'offer', sdp }, offer_id: offerId }
  }

  #drop(offerId: string, sp: SimplePeer.Instance): void {
    if (this.#pendingOffers.get(offerId) === sp) this.#pendingOffers.delete(offerId)
    sp.destroy()
  }

  #onOffer(msg: OfferForward): void {
    const id = binaryStringToHex(msg.peer_id)
    if (this.#destroyed || this.#banned.has(id) || this.peers.has(id) || this.#answering.has(id)) return
    if (this.connections < this.#init.maxPeers) {
      this.#answer(id, msg)
      return
    }
    // Someone wants us now: an open offer of ours that nobody took yet gives way. Its
    // RTCPeerConnection closes in a microtask (simple-peer's destroy), so answer after it.
    const oldest = this.#pendingOffers.entries().next().value
    if (oldest === undefined) return
    this.#drop(oldest[0], oldest[1])
    this.#answering.set(id, oldest[1])
    queueMicrotask(() => {
      if (this.#answering.get(id) !== oldest[1]) return
      this.#answering.delete(id)
      if (!this.#destroyed) this.#answer(id, msg)
    })
  }

  #answer(id: string, msg: OfferForward): void {
    const sp = this.#newPeer(false)
    this.#watchAttempt(sp)
    this.#answering.set(id, sp)
    this.#lastSign.set(sp, performance.now())
    const forget = (): void => {
      if (this.#answering.get(id) === sp) this.#answering.delete(id)
    }
    sp.once('signal', (data: SimplePeer.SignalData) => {
      this.#init.tracker.send({
        action: 'announce',
        info_hash: this.#init.infoHash,
        peer_id: this.#init.peerId,
        to_peer_id: msg.peer_id,
        offer_id: msg.offer_id,
        answer: { type: 'answer', sdp: sdpOf(data) ?? '' }
      })
    })
    sp.once('connect', () => {
      forget()
      this.#addPeer(id, msg.region ?? 'default', sp)
    })
    sp.once('close', forget)
    sp.once('error', () => {
      forget()
      sp.destroy()
    })
    const expire = setTimeout(() => {
      if (this.#answering.get(id) === sp) {
        forget()
        sp.destroy()
      }
    }, SIGNAL_TIMEOUT_MS * 2)
    sp.once('close', () => clearTimeout(expire))
    sp.once('connect', () => clearTimeout(expire))
    sp.signal(msg.offer)
  }

  #onAnswer(msg: AnswerForward): void {
    const sp = this.#pendingOffers.get(msg.offer_id)
    if (sp === undefined) return
    this.#pendingOffers.delete(msg.offer_id)
    const id = binaryStringToHex(msg.peer_id)
    if (this.#destroyed || this.#banned.has(id) || this.peers.has(id)) {
      sp.destroy()
      return
    }
    this.#connecting.add(sp)
    this.#watchAttempt(sp)
    // An answer is a sign of life: ICE gets a fresh deadline from here.
    this.#lastSign.set(sp, performance.now())
    const forget = (): void => {
      this.#connecting.delete(sp)
      clearTimeout(expire)
    }
    // An answered offer that never connects (ICE failure) must not hold a slot forever.
    const expire = setTimeout(() => {
      forget()
      sp.destroy()
    }, SIGNAL_TIMEOUT_MS * 2)
    sp.once('connect', () => {
      forget()
      this.#addPeer(id, msg.region ?? 'default', sp)
    })
    sp.once('close', forget)
    sp.once('error', () => {
      forget()
      sp.destroy()
    })
    sp.signal(msg.answer)
  }

  /**
   * An offer being answered, or an answer being connected, is an attempt (an offer nobody
   * answered is not): it connects, or closes first. Closed by our own teardown, it is neither.
   */
  #watchAttempt(sp: SimplePeer.Instance): void {
    let settled = false
    const settle = (connected: boolean): void => {
      if (settled || (this.#destroyed && !connected)) return
      settled = true
      this.emit('attempt', connected)
    }
    sp.once('connect', () => settle(true))
    sp.once('close', () => settle(false))
  }

  #addPeer(id: string, region: string, sp: SimplePeer.Instance): void {
    // Both sides may have offered to each other at once: keep the first connection.
    if (this.#destroyed || this.peers.has(id) || this.#banned.has(id)) {
      sp.destroy()
      return
    }
    const { provide, throttle, chunksOf, peerUploadBytesPerSecond } = this.#init
    const sends = this.#sends.get(id) ?? new Map<string, number>()
    this.#sends.delete(id)
    this.#sends.set(id, sends) // most recent last
    for (const old of this.#sends.keys()) {
      if (this.#sends.size <= SENDS_PEERS) break
      this.#sends.delete(old)
    }
    const peer = new Peer(id, region, sp, {
      provide,
      throttle,
      chunksOf,
      sends,
      uploadBytesPerSecond: peerUploadBytesPerSecond,
      holdings: this.#init.holdings()
    })
    this.peers.set(id, peer)
    peer.on('have', ({ resourceId }) => this.emit('have', { peer, resourceId }))
    peer.on('uploaded', bytes => this.emit('uploaded', bytes))
    peer.on('close', () => {
      if (this.peers.get(id) === peer) this.peers.delete(id)
      this.emit('peer', { id, region, connected: false })
    })
    this.emit('peer', { id, region, connected: true })
  }
}

/** WebTorrent ids are 20 raw bytes carried as a binary string. */
export function randomBinaryId(prefix = ''): string {
  const bytes = crypto.getRandomValues(new Uint8Array(20 - prefix.length))
  return prefix + toBinaryString(bytes)
}

/** With `trickle: false` the only signal is the full offer or answer. */
function sdpOf(data: SimplePeer.SignalData): string | undefined {
  return 'sdp' in data ? data.sdp : undefined
}
