/**
 * Swarm state only: who is in which swarm, in which region, seeding or not. Knows nothing
 * about sockets; the server passes an opaque `handle` per peer (its connection) and gets
 * it back when it needs to reach that peer.
 */
import type { AnnounceEvent } from '../../protocol/src/index.js'

/** Region of a peer that did not say. */
export const DEFAULT_REGION = 'default'

/** One peer of one swarm. */
export interface SwarmPeer<H> {
  /** 20-character binary string, as on the wire. */
  readonly peerId: string
  region: string
  /** A seeder: announced `completed` or `left: 0`. */
  complete: boolean
  handle: H
}

/** The parts of an announce that change swarm state. */
export interface AnnounceUpdate<H> {
  peerId: string
  /** Absent means `update`, as in bittorrent-tracker. */
  event?: AnnounceEvent
  left?: number
  region?: string
  handle: H
}

/** One `info_hash` and its peers. */
export class Swarm<H> {
  readonly infoHash: string
  complete = 0
  incomplete = 0
  private readonly peers = new Map<string, SwarmPeer<H>>()

  constructor (infoHash: string) {
    this.infoHash = infoHash
  }

  get size (): number {
    return this.peers.size
  }

  get (peerId: string): SwarmPeer<H> | undefined {
    return this.peers.get(peerId)
  }

  values (): IterableIterator<SwarmPeer<H>> {
    return this.peers.values()
  }

  /**
   * Add, update or (for `stopped`) remove a peer. Mirrors bittorrent-tracker's
   * `lib/server/swarm.js`: `started` from a known peer is an update, `completed` or
   * `update` from an unknown peer is a start, and a seeder never goes back to leecher.
   * Returns the peer, or undefined once it has stopped.
   */
  announce (update: AnnounceUpdate<H>): SwarmPeer<H> | undefined {
    if (update.event === 'stopped') {
      // Only the connection that owns the peer id may take it out of the swarm.
      this.remove(update.peerId, update.handle)
      return undefined
    }
    const seeding = update.event === 'completed' || update.left === 0
    const peer = this.peers.get(update.peerId)
    if (peer === undefined) {
      const added: SwarmPeer<H> = {
        peerId: update.peerId,
        region: update.region ?? DEFAULT_REGION,
        complete: seeding,
        handle: update.handle
      }
      this.peers.set(update.peerId, added)
      if (seeding) this.complete++
      else this.incomplete++
      return added
    }
    // The latest socket to announce a peer id owns it: a client that reconnects gets its
    // offers and answers on the new socket before the tracker notices the old one is dead.
    peer.handle = update.handle
    if (update.region !== undefined) peer.region = update.region
    if (seeding && !peer.complete) {
      peer.complete = true
      this.complete++
      this.incomplete--
    }
    return peer
  }

  /** Remove `peerId`; when `handle` is given, only if the peer still belongs to it. */
  remove (peerId: string, handle?: H): boolean {
    const peer = this.peers.get(peerId)
    if (peer === undefined || (handle !== undefined && peer.handle !== handle)) return false
    this.peers.delete(peerId)
    if (peer.complete) this.complete--
    else this.incomplete--
    return true
  }

  /**
   * Up to `count` distinct peers other than `exceptPeerId` to send offers to: peers of
   * `region` first, then the others, in random order within each group.
   */
  choosePeers (exceptPeerId: string, region: string, count: number): Array<SwarmPeer<H>> {
    const near: Array<SwarmPeer<H>> = []
    const far: Array<SwarmPeer<H>> = []
    for (const peer of this.peers.values()) {
      if (peer.peerId === exceptPeerId) continue
      if (peer.region === region) near.push(peer)
      else far.push(peer)
    }
    shuffle(near)
    if (near.length < count) shuffle(far)
    return near.concat(far).slice(0, Math.max(0, count))
  }
}

/** All swarms by `info_hash`; a swarm exists only while it has peers. */
export class Swarms<H> {
  private readonly swarms = new Map<string, Swarm<H>>()

  get size (): number {
    return this.swarms.size
  }

  get (infoHash: string): Swarm<H> | undefined {
    return this.swarms.get(infoHash)
  }

  getOrCreate (infoHash: string): Swarm<H> {
    let swarm = this.swarms.get(infoHash)
    if (swarm === undefined) {
      swarm = new Swarm<H>(infoHash)
      this.swarms.set(infoHash, swarm)
    }
    return swarm
  }

  /** Drop the swarm if nobody is left in it, so idle info_hashes do not pile up. */
  deleteIfEmpty (infoHash: string): void {
    if (this.swarms.get(infoHash)?.size === 0) this.swarms.delete(infoHash)
  }

  values (): IterableIterator<Swarm<H>> {
    return this.swarms.values()
  }

  /** Distinct peer ids across all swarms, and per region. */
  stats (): { peers: number, peersByRegion: Record<string, number> } {
    const regionOf = new Map<string, string>()
    for (const swarm of this.swarms.values()) {
      for (const peer of swarm.values()) regionOf.set(peer.peerId, peer.region)
    }
    const peersByRegion: Record<string, number> = {}
    for (const region of regionOf.values()) peersByRegion[region] = (peersByRegion[region] ?? 0) + 1
    return { peers: regionOf.size, peersByRegion }
  }
}

/** Fisher-Yates, in place. */
function shuffle<T> (items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const tmp = items[i]!
    items[i] = items[j]!
    items[j] = tmp
  }
}
