/**
 * Swarm state only: who is in which swarm, in which region, seeding or not. Knows nothing
 * about sockets; the server passes an opaque `handle` per peer (its connection) and gets
 * it back when it needs to reach that peer.
 *
 * Every operation on the announce path is O(1) in the swarm size: peers sit in arrays
 * (one for the swarm, one per region, one per network (ASN) within a region) and know
 * their own index in each, so removal is a swap-remove and a random choice is a random index. bittorrent-tracker copies the whole
 * key list on each announce instead, which is why it slows down as a swarm grows.
 */
import type { AnnounceEvent } from '../../protocol/src/index.js'
import { Refusal, peerIdTaken } from './refusal.js'

/** Region of a peer that did not say. */
export const DEFAULT_REGION = 'default'

/** One peer of one swarm. */
export interface SwarmPeer<H> {
  /** 20-character binary string, as on the wire. */
  readonly peerId: string
  region: string
  /** A seeder: announced `completed` or `left: 0`. */
  complete: boolean
  readonly handle: H
  /** Who is counted for it against `maxPeersPerSource` (the server passes the client address key). */
  readonly source: string
  /** Autonomous system number of its address (from GeoIP), when known. */
  readonly asn: number | undefined
  /** Position in the swarm's `all` array. */
  index: number
  /** Position in its region's array. */
  regionIndex: number
  /** Position in its region's array for its ASN (unused without one). */
  asnIndex: number
}

/** The peers of one region, and those of them whose ASN is known, by ASN. */
interface RegionGroup<H> {
  readonly peers: Array<SwarmPeer<H>>
  /** Created with the region's first peer of known ASN. */
  byAsn: Map<number, Array<SwarmPeer<H>>> | undefined
}

/** The parts of an announce that change swarm state. */
export interface AnnounceUpdate<H> {
  peerId: string
  /** Absent means `update`, as in bittorrent-tracker. */
  event?: AnnounceEvent
  left?: number
  region: string
  handle: H
  /** Counted against the swarm's `maxPeersPerSource`; peers without one share ''. */
  source?: string
  /** The peer's network; it is offered to announcers of the same ASN first. Fixed once the peer is in. */
  asn?: number
}

/** One `info_hash` and its peers. */
export class Swarm<H> {
  readonly infoHash: string
  /** `infoHash` as a JSON string literal, for replies built by concatenation. */
  readonly infoHashJson: string
  complete = 0
  incomplete = 0
  private readonly peers = new Map<string, SwarmPeer<H>>()
  private readonly all: Array<SwarmPeer<H>> = []
  private readonly byRegion = new Map<string, RegionGroup<H>>()
  /** Peers per source, for `maxPeersPerSource`; created with the first peer that has a cap to count against. */
  private perSource: Map<string, number> | undefined
  private readonly maxPeers: number
  private readonly maxPeersPerSource: number

  constructor(infoHash: string, maxPeers = Number.POSITIVE_INFINITY, maxPeersPerSource = Number.POSITIVE_INFINITY) {
    this.infoHash = infoHash
    this.infoHashJson = JSON.stringify(infoHash)
    this.maxPeers = maxPeers
    this.maxPeersPerSource = maxPeersPerSource
  }

  get size(): number {
    return this.all.length
  }

  get(peerId: string): SwarmPeer<H> | undefined {
    return this.peers.get(peerId)
  }

  values(): IterableIterator<SwarmPeer<H>> {
    return this.peers.values()
  }

  /** Peers per region. */
  regionCounts(): Record<string, number> {
    const counts: Record<string, number> = {}
    for (const [region, group] of this.byRegion) counts[region] = group.peers.length
    return counts
  }

  /**
   * Add, update or (for `stopped`) remove a peer. Mirrors bittorrent-tracker's
   * `lib/server/swarm.js`: `started` from a known peer is an update, `completed` or
   * `update` from an unknown peer is a start, and a seeder never goes back to leecher.
   * Returns the peer, or undefined once it has stopped.
   * @throws Refusal when the peer id belongs to another handle, the swarm is full, or the
   * source already holds `maxPeersPerSource` peers here
   */
  announce(update: AnnounceUpdate<H>): SwarmPeer<H> | undefined {
    const peer = this.peers.get(update.peerId)
    if (peer !== undefined && peer.handle !== update.handle) {
      throw peerIdTaken()
    }
    if (update.event === 'stopped') {
      if (peer !== undefined) this.removePeer(peer)
      return undefined
    }
    const seeding = update.event === 'completed' || update.left === 0
    if (peer === undefined) {
      if (this.all.length >= this.maxPeers) throw new Refusal('swarm-full', 'swarm is full; try again later')
      if ((this.perSource?.get(update.source ?? '') ?? 0) >= this.maxPeersPerSource) {
        throw new Refusal(
          'too-many-peer-ids',
          `this address already has ${this.maxPeersPerSource} peer ids in this swarm`
        )
      }
      return this.add(update, seeding)
    }
    if (update.region !== peer.region) this.moveRegion(peer, update.region)
    if (seeding && !peer.complete) {
      peer.complete = true
      this.complete++
      this.incomplete--
    }
    return peer
  }

  /** Remove `peerId`; when `handle` is given, only if the peer belongs to it. */
  remove(peerId: string, handle?: H): boolean {
    const peer = this.peers.get(peerId)
    if (peer === undefined || (handle !== undefined && peer.handle !== handle)) return false
    this.removePeer(peer)
    return true
  }

  /**
   * Fill `out` with up to `count` distinct peers other than `from`: peers of `region` on
   * `from`'s network (ASN) first, then the rest of `region`, then of each of `neighbours`
   * in order, then any. Random within each group. With `usable`, peers whose handle it
   * rejects are skipped (sockets not reading now).
   */
  choosePeers(
    from: SwarmPeer<H> | undefined,
    region: string,
    neighbours: readonly string[],
    count: number,
    out: Array<SwarmPeer<H>>,
    usable?: (handle: H) => boolean
  ): void {
    const own = this.byRegion.get(region)
    if (own !== undefined) {
      const sameAsn = from?.asn === undefined ? undefined : own.byAsn?.get(from.asn)
      if (sameAsn !== undefined) sample(sameAsn, count, from, out, usable)
      if (out.length < count) sample(own.peers, count, from, out, usable)
    }
    for (let i = 0; i < neighbours.length && out.length < count; i++) {
      const group = this.byRegion.get(neighbours[i]!)
      if (group !== undefined) sample(group.peers, count, from, out, usable)
    }
    if (out.length < count) sample(this.all, count, from, out, usable)
  }

  private add(update: AnnounceUpdate<H>, seeding: boolean): SwarmPeer<H> {
    const peer: SwarmPeer<H> = {
      peerId: update.peerId,
      region: update.region,
      complete: seeding,
      handle: update.handle,
      source: update.source ?? '',
      asn: update.asn,
      index: this.all.length,
      regionIndex: 0,
      asnIndex: 0
    }
    if (this.maxPeersPerSource !== Number.POSITIVE_INFINITY) {
      this.perSource ??= new Map()
      this.perSource.set(peer.source, (this.perSource.get(peer.source) ?? 0) + 1)
    }
    this.peers.set(peer.peerId, peer)
    this.all.push(peer)
    this.addToRegion(peer)
    if (seeding) this.complete++
    else this.incomplete++
    return peer
  }

  private removePeer(peer: SwarmPeer<H>): void {
    this.peers.delete(peer.peerId)
    const sourced = this.perSource?.get(peer.source)
    if (sourced !== undefined) {
      if (sourced <= 1) this.perSource!.delete(peer.source)
      else this.perSource!.set(peer.source, sourced - 1)
    }
    const last = this.all.pop()!
    if (last !== peer) {
      this.all[peer.index] = last
      last.index = peer.index
    }
    this.removeFromRegion(peer)
    if (peer.complete) this.complete--
    else this.incomplete--
  }

  private moveRegion(peer: SwarmPeer<H>, region: string): void {
    this.removeFromRegion(peer)
    peer.region = region
    this.addToRegion(peer)
  }

  private addToRegion(peer: SwarmPeer<H>): void {
    let group = this.byRegion.get(peer.region)
    if (group === undefined) {
      group = { peers: [], byAsn: undefined }
      this.byRegion.set(peer.region, group)
    }
    peer.regionIndex = group.peers.length
    group.peers.push(peer)
    if (peer.asn === undefined) return
    group.byAsn ??= new Map()
    let list = group.byAsn.get(peer.asn)
    if (list === undefined) {
      list = []
      group.byAsn.set(peer.asn, list)
    }
    peer.asnIndex = list.length
    list.push(peer)
  }

  private removeFromRegion(peer: SwarmPeer<H>): void {
    const group = this.byRegion.get(peer.region)!
    const last = group.peers.pop()!
    if (last !== peer) {
      group.peers[peer.regionIndex] = last
      last.regionIndex = peer.regionIndex
    }
    if (group.peers.length === 0) {
      this.byRegion.delete(peer.region)
      return
    }
    if (peer.asn === undefined) return
    const list = group.byAsn!.get(peer.asn)!
    const lastOfAsn = list.pop()!
    if (lastOfAsn !== peer) {
      list[peer.asnIndex] = lastOfAsn
      lastOfAsn.asnIndex = peer.asnIndex
    }
    if (list.length === 0) group.byAsn!.delete(peer.asn)
  }
}

/**
 * Add random members of `list` to `out` until it holds `count`, skipping `from` and peers
 * already in `out`. Random indexes while the list is much larger than what we need (the
 * usual case: a few offers into a big swarm), one pass from a random start otherwise, so
 * the work is bounded either way.
 */
function sample<H>(
  list: Array<SwarmPeer<H>>,
  count: number,
  from: SwarmPeer<H> | undefined,
  out: Array<SwarmPeer<H>>,
  usable: ((handle: H) => boolean) | undefined
): void {
  const n = list.length
  if (n === 0) return
  if (n > 4 * count) {
    for (let tries = 2 * count; tries > 0 && out.length < count; tries--) {
      const peer = list[Math.floor(Math.random() * n)]!
      if (fits(peer, from, out, usable)) out.push(peer)
    }
    if (out.length >= count) return
  }
  // Bounded too when most peers are unusable (many sockets not reading): a big swarm
  // must not cost a pass over all its peers on every announce.
  const start = Math.floor(Math.random() * n)
  const scan = Math.min(n, SCAN_BASE + SCAN_PER_WANTED * count)
  for (let i = 0; i < scan && out.length < count; i++) {
    const peer = list[(start + i) % n]!
    if (fits(peer, from, out, usable)) out.push(peer)
  }
}

/** Most candidates one `sample` pass examines: enough for any list of a few offers' size. */
const SCAN_BASE = 64
const SCAN_PER_WANTED = 8

function fits<H>(
  peer: SwarmPeer<H>,
  from: SwarmPeer<H> | undefined,
  out: Array<SwarmPeer<H>>,
  usable: ((handle: H) => boolean) | undefined
): boolean {
  return peer !== from && !out.includes(peer) && (usable === undefined || usable(peer.handle))
}

/** All swarms by `info_hash`; a swarm exists only while it has peers. */
export class Swarms<H> {
  private readonly swarms = new Map<string, Swarm<H>>()
  private readonly maxPeersPerSwarm: number
  private readonly maxPeersPerSource: number

  constructor(maxPeersPerSwarm = Number.POSITIVE_INFINITY, maxPeersPerSource = Number.POSITIVE_INFINITY) {
    this.maxPeersPerSwarm = maxPeersPerSwarm
    this.maxPeersPerSource = maxPeersPerSource
  }

  get size(): number {
    return this.swarms.size
  }

  get(infoHash: string): Swarm<H> | undefined {
    return this.swarms.get(infoHash)
  }

  getOrCreate(infoHash: string): Swarm<H> {
    let swarm = this.swarms.get(infoHash)
    if (swarm === undefined) {
      swarm = new Swarm<H>(infoHash, this.maxPeersPerSwarm, this.maxPeersPerSource)
      this.swarms.set(infoHash, swarm)
    }
    return swarm
  }

  /** Drop the swarm if nobody is left in it, so idle info_hashes do not pile up. */
  deleteIfEmpty(swarm: Swarm<H>): void {
    if (swarm.size === 0 && this.swarms.get(swarm.infoHash) === swarm) this.swarms.delete(swarm.infoHash)
  }

  values(): IterableIterator<Swarm<H>> {
    return this.swarms.values()
  }

  /** Distinct peer ids across all swarms, and per region. */
  stats(): { peers: number; peersByRegion: Record<string, number> } {
    const regionOf = new Map<string, string>()
    for (const swarm of this.swarms.values()) {
      for (const peer of swarm.values()) regionOf.set(peer.peerId, peer.region)
    }
    const peersByRegion: Record<string, number> = {}
    for (const region of regionOf.values()) peersByRegion[region] = (peersByRegion[region] ?? 0) + 1
    return { peers: regionOf.size, peersByRegion }
  }
}
