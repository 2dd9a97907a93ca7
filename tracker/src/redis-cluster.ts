/**
 * Cluster mode through Redis (or a Redis Cluster): every process writes its own peers
 * and edges into shared keys (see redis-keys.ts), reads the others' when it counts and
 * matches, and relays offers and answers to the process holding the target socket over
 * pub/sub.
 *
 * What it costs: a peer's join, leave, or change of region or seeding is one script
 * call; a re-announce that changes none of these costs nothing. Liveness is one
 * heartbeat per process per tick (`p2pcdn:nodes`), not a write per peer: a dead
 * process's members stop counting once its heartbeat lapses, and are purged lazily by
 * whoever samples them. Reply counts add this process's exact tally to the others'
 * counts, read at most once a second per swarm; offer targets come from a random sample
 * per peer set, fetched in one command and used up before it is fetched again (or after
 * a second). Signals for one process leave in one message per event-loop turn.
 */
import { randomBytes } from 'node:crypto'
import { binaryStringToHex, hexToBinaryString } from '../../protocol/src/index.js'
import type { EdgeInfo, Logger } from '../../protocol/src/index.js'
import type { Cluster, ClusterPeer, DeliverFn, LostFn } from './cluster.js'
import { parseFleetSnapshot } from './fleet-stats.js'
import type { FleetSnapshot } from './fleet-stats.js'
import { EDGE_MISSED_HEARTBEATS } from './config.js'
import type { TrackerConfig } from './config.js'
import { connectRedis } from './redis-connect.js'
import type { RedisClient } from './redis-connect.js'
import {
  EDGES_KEY,
  FLEET_NODES_KEY,
  JOIN_SCRIPT,
  MOVE_SCRIPT,
  NODE_ID,
  NODES_KEY,
  PURGE_SCRIPT,
  asnKey,
  countsKey,
  edgeKey,
  fleetKey,
  ownersKey,
  parseMember,
  regionKey,
  relayChannel
} from './redis-keys.js'

/** How long another process's counts of a swarm are reused for replies and swarm caps. */
export const COUNTS_CACHE_MS = 1000
/** How long a sample of a peer set is drawn from before it is fetched again. */
export const SAMPLE_CACHE_MS = 1000
/** Members fetched per sample: a dozen announces' worth of offers. */
const SAMPLE_SIZE = 64
/** Swarm keys outlive the last process that wrote them by this much, then vanish. */
const KEY_TTL_MS = 60 * 60 * 1000
/** Each process re-arms the TTL of its swarms' keys this often. */
const KEY_REFRESH_MS = KEY_TTL_MS / 4
/** A dead process stays listed this long, so its leftovers are told apart from a process too new to know. */
const NODE_FORGET_MS = 24 * 60 * 60 * 1000
/** Characters of an info_hash or a peer_id. */
const ID_CHARS = 20
/** Info hashes whose hex is kept; past this the cache starts over. */
const MAX_HEX_CACHE = 100_000
/** A relay message grows to this size at most before it is sent. */
const MAX_RELAY_BYTES = 256 * 1024
/** Most processes whose fleet figures are read for one dashboard poll. */
const MAX_FLEET_NODES = 256

interface LocalPeer {
  ih: string
  peer: string
  region: string
  complete: boolean
  asn: number | undefined
}

/** This process's peers of one swarm, by kind: what it writes as its counts. */
interface Tally {
  seed: number
  leech: number
  regions: Map<string, number>
}

interface RemoteCounts {
  at: number
  complete: number
  incomplete: number
  regions: string[]
}

interface Counts {
  complete: number
  incomplete: number
}

interface Sample {
  at: number
  /** Not drawn yet, in random order. */
  members: string[]
  /** The list of processes was checked against its members (read again if one was unknown). */
  checked: boolean
  /** Every member of the set, when it had fewer than SAMPLE_SIZE: drawn again once used up. */
  whole: string[] | undefined
}

type ScriptFn = (numKeys: number, ...args: Array<string | number>) => Promise<unknown>
type ScriptClient = RedisClient & Record<'p2pcdnJoin' | 'p2pcdnMove' | 'p2pcdnPurge', ScriptFn>

export class RedisCluster implements Cluster {
  readonly nodeId = randomBytes(6).toString('hex')
  private readonly url: string
  private readonly ttlMs: number
  private readonly edgeTtlMs: number
  private readonly log: Logger
  private readonly peers = new Map<string, LocalPeer>()
  private readonly tallies = new Map<string, Tally>()
  private readonly hexes = new Map<string, string>()
  /** Claims in flight, by info hash + peer id: later updates of that peer wait for them. */
  private readonly claims = new Map<string, Promise<boolean>>()
  private readonly localEdges = new Map<string, EdgeInfo>()
  /** Every process listed in `p2pcdn:nodes`, with its heartbeat expiry, as of `nodesReadAt`. */
  private nodes = new Map<string, number>()
  private nodesReadAt = 0
  private nodesRead: Promise<void> | undefined
  private lastBeatMs = 0
  private lastKeyRefreshMs = 0
  private readonly remote = new Map<string, RemoteCounts>()
  private readonly remoteFetches = new Map<string, Promise<RemoteCounts>>()
  private readonly samples = new Map<string, Sample>()
  private readonly sampleFetches = new Map<string, Promise<Sample>>()
  private readonly outbox = new Map<string, { lines: string[]; bytes: number }>()
  private flushing = false
  private sharded = false
  private cmd: ScriptClient | undefined
  private sub: RedisClient | undefined
  private timer: NodeJS.Timeout | undefined
  private lost: LostFn = () => {}

  constructor(url: string, config: TrackerConfig, log: Logger) {
    this.url = url
    this.ttlMs = config.clusterTtlMs
    this.edgeTtlMs = EDGE_MISSED_HEARTBEATS * config.edgeHeartbeatMs
    this.log = log
  }

  async start(deliver: DeliverFn, lost: LostFn): Promise<void> {
    const { cmd, sub, sharded } = await connectRedis(this.url, this.log)
    cmd.defineCommand('p2pcdnJoin', { lua: JOIN_SCRIPT })
    cmd.defineCommand('p2pcdnMove', { lua: MOVE_SCRIPT })
    cmd.defineCommand('p2pcdnPurge', { lua: PURGE_SCRIPT })
    this.cmd = cmd as ScriptClient
    this.sub = sub
    this.sharded = sharded
    this.lost = lost
    const onMessage = (_channel: string, message: string): void => this.receive(message, deliver)
    if (sharded) {
      sub.on('smessage', onMessage)
      await sub.ssubscribe(relayChannel(this.nodeId))
    } else {
      sub.on('message', onMessage)
      await sub.subscribe(relayChannel(this.nodeId))
    }
    // Listed before any peer is written, so no one mistakes this process's members for leftovers.
    await this.beat()
    this.timer = setInterval(
      () => {
        this.tick().catch((err: unknown) => this.log.warn('cluster-tick-failed', { error: String(err) }))
      },
      Math.max(50, Math.floor(this.ttlMs / 3))
    )
    this.timer.unref()
    this.log.info('cluster-joined', { node: this.nodeId, ttlMs: this.ttlMs, redisCluster: sharded })
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    const cmd = this.cmd
    if (cmd === undefined) return
    this.flush()
    this.cmd = undefined
    const writes: Array<Promise<unknown>> = []
    for (const p of this.peers.values()) writes.push(this.writeMove(cmd, p, this.setsOf(p), [], true, []))
    for (const url of this.localEdges.keys()) writes.push(cmd.del(edgeKey(url)), cmd.srem(EDGES_KEY, url))
    for (const [ih, t] of this.tallies)
      writes.push(
        cmd.hdel(
          countsKey(ih),
          `${this.nodeId}|s`,
          `${this.nodeId}|l`,
          ...[...t.regions.keys()].map(r => `${this.nodeId}|r|${r}`)
        )
      )
    // Others stop counting this process's members at once, not when its heartbeat lapses.
    writes.push(cmd.zrem(NODES_KEY, this.nodeId))
    // A process that stops takes its fleet figures with it, as a dead one does once they expire.
    writes.push(cmd.del(fleetKey(this.nodeId)), cmd.zrem(FLEET_NODES_KEY, this.nodeId))
    await Promise.all(writes.map(async w => await w.catch(() => {})))
    this.peers.clear()
    this.tallies.clear()
    await Promise.all([cmd.quit(), this.sub?.quit()].map(async p => await p?.catch(() => {})))
    this.log.info('cluster-left', { node: this.nodeId })
  }

  peerUpdated(
    infoHash: string,
    peerId: string,
    region: string,
    complete: boolean,
    asn: number | undefined
  ): boolean | Promise<boolean> {
    // Both ids are exactly 20 characters (the parser checks), so the pair needs no separator.
    const key = infoHash + peerId
    const before = this.peers.get(key)
    // The common re-announce: nothing the cluster keeps has changed, so nothing is written,
    // and nothing is awaited.
    if (
      before !== undefined &&
      before.region === region &&
      before.complete === complete &&
      before.asn === asn &&
      !this.claims.has(key)
    )
      return true
    return this.peerChanged(key, infoHash, peerId, region, complete, asn)
  }

  private async peerChanged(
    key: string,
    infoHash: string,
    peerId: string,
    region: string,
    complete: boolean,
    asn: number | undefined
  ): Promise<boolean> {
    const ih = this.hexOf(infoHash)
    const next: LocalPeer = { ih, peer: binaryStringToHex(peerId), region, complete, asn }
    // A claim of this peer in flight decides first; then the state is read afresh.
    const pending = this.claims.get(key)
    if (pending !== undefined) await pending.catch(() => false)
    const before = this.peers.get(key)
    if (before === undefined) return await this.claim(key, next)
    // The common re-announce: nothing the cluster keeps has changed, so nothing is written.
    if (before.region === region && before.complete === complete && before.asn === asn) return true
    const cmd = this.cmd
    if (cmd === undefined) return true
    this.untally(before)
    this.tally(next)
    this.peers.set(key, next)
    const was = this.setsOf(before)
    const now = this.setsOf(next)
    this.report(
      this.writeMove(
        cmd,
        next,
        was.filter(k => !now.includes(k)),
        now.filter(k => !was.includes(k)),
        false,
        this.countFields(ih, [before.region, region])
      )
    )
    return true
  }

  async peerLeft(infoHash: string, peerId: string): Promise<void> {
    const key = infoHash + peerId
    // Leave after the claim settles, or a claim that succeeds later would re-add the peer.
    const pending = this.claims.get(key)
    if (pending !== undefined) {
      await pending.catch(() => false)
      await this.peerLeft(infoHash, peerId)
      return
    }
    const before = this.peers.get(key)
    if (before === undefined || this.cmd === undefined) return
    this.peers.delete(key)
    this.untally(before)
    const write = this.writeMove(
      this.cmd,
      before,
      this.setsOf(before),
      [],
      true,
      this.countFields(before.ih, [before.region])
    )
    this.dropEmptyTally(before.ih)
    await write.catch((err: unknown) => this.log.warn('redis-write-failed', { error: String(err) }))
  }

  counts(infoHash: string): Counts | Promise<Counts> {
    const ih = this.hexOf(infoHash)
    const cached = this.remote.get(ih)
    if (cached !== undefined && Date.now() - cached.at < COUNTS_CACHE_MS) return this.withLocal(ih, cached)
    return this.remoteCounts(ih).then(remote => this.withLocal(ih, remote))
  }

  private withLocal(ih: string, remote: RemoteCounts): Counts {
    const local = this.tallies.get(ih)
    return { complete: (local?.seed ?? 0) + remote.complete, incomplete: (local?.leech ?? 0) + remote.incomplete }
  }

  /** The hex of an info hash, kept for the swarms in use: the hot path converts each once. */
  private hexOf(infoHash: string): string {
    let hex = this.hexes.get(infoHash)
    if (hex === undefined) {
      if (this.hexes.size >= MAX_HEX_CACHE) this.hexes.clear()
      hex = binaryStringToHex(infoHash)
      this.hexes.set(infoHash, hex)
    }
    return hex
  }

  remotePeers(infoHash: string): number {
    const remote = this.remote.get(this.hexOf(infoHash))
    return remote === undefined ? 0 : remote.complete + remote.incomplete
  }

  choosePeers(
    infoHash: string,
    exceptPeerId: string,
    region: string,
    neighbours: readonly string[],
    count: number,
    asn: number | undefined
  ): ClusterPeer[] | Promise<ClusterPeer[]> {
    const ih = this.hexOf(infoHash)
    const except = binaryStringToHex(exceptPeerId)
    const chosen = new Map<string, ClusterPeer>()
    const tiers = [region, ...neighbours]
    // The first set's cached sample is enough for most announces: no promise, no round trip.
    const first = asn !== undefined ? asnKey(ih, asn, region) : regionKey(ih, region)
    if (this.drawCached(ih, first, except, count, chosen) === 'done') return [...chosen.values()]
    return this.chooseFrom(ih, except, tiers, count, asn, chosen)
  }

  /** `choosePeers` with every tier drawn in turn, fetching samples as needed; `chosen` may hold some already. */
  private async chooseFrom(
    ih: string,
    except: string,
    tiers: string[],
    count: number,
    asn: number | undefined,
    chosen: Map<string, ClusterPeer>
  ): Promise<ClusterPeer[]> {
    if (asn !== undefined) await this.draw(ih, asnKey(ih, asn, tiers[0]!), except, count, chosen)
    for (let i = 0; i < tiers.length && chosen.size < count; i++)
      await this.draw(ih, regionKey(ih, tiers[i]!), except, count, chosen)
    if (chosen.size < count) {
      const others = new Set((await this.remoteCounts(ih)).regions)
      for (const r of this.tallies.get(ih)?.regions.keys() ?? []) others.add(r)
      for (const other of others) {
        if (chosen.size >= count) break
        if (!tiers.includes(other)) await this.draw(ih, regionKey(ih, other), except, count, chosen)
      }
    }
    return [...chosen.values()]
  }

  async locate(infoHash: string, peerId: string): Promise<string | undefined> {
    const node = await this.redis().hget(ownersKey(binaryStringToHex(infoHash)), binaryStringToHex(peerId))
    if (node === null || !NODE_ID.test(node)) return undefined
    return this.nodeState(node, Date.now()) === 'live' || (await this.isLive(node)) ? node : undefined
  }

  relay(nodeId: string, infoHash: string, peerId: string, text: string): void {
    // One signal a line: our frames are JSON.stringify'd pieces, which never hold a raw newline.
    if (text.includes('\n')) return
    // Both ids are exactly 20 characters, so they go as they are, ahead of the text.
    const line = infoHash + peerId + text
    let box = this.outbox.get(nodeId)
    if (box === undefined) {
      box = { lines: [], bytes: 0 }
      this.outbox.set(nodeId, box)
    }
    box.lines.push(line)
    box.bytes += line.length + 1
    if (box.bytes >= MAX_RELAY_BYTES) this.send(nodeId, box.lines)
    if (!this.flushing) {
      this.flushing = true
      setImmediate(() => this.flush())
    }
  }

  edgeUpdated(edge: EdgeInfo): void {
    this.localEdges.set(edge.url, edge)
    const cmd = this.redis()
    this.report(cmd.set(edgeKey(edge.url), JSON.stringify(edge), 'PX', this.edgeTtlMs))
    this.report(cmd.sadd(EDGES_KEY, edge.url))
  }

  edgeRemoved(url: string): void {
    if (!this.localEdges.delete(url) || this.cmd === undefined) return
    this.report(this.cmd.del(edgeKey(url)))
    this.report(this.cmd.srem(EDGES_KEY, url))
  }

  async edges(): Promise<EdgeInfo[]> {
    const urls = await this.redis().smembers(EDGES_KEY)
    if (urls.length === 0) return []
    const values = await this.redis().mget(urls.map(edgeKey))
    const edges: EdgeInfo[] = []
    const expired: string[] = []
    values.forEach((value, i) => {
      if (value === null) expired.push(urls[i]!)
      else {
        const edge = parseEdge(value)
        if (edge !== undefined) edges.push(edge)
      }
    })
    if (expired.length > 0)
      this.redis()
        .srem(EDGES_KEY, ...expired)
        .catch(() => {})
    return edges
  }

  publishFleet(snapshot: FleetSnapshot): void {
    if (this.cmd === undefined) return
    const now = Date.now()
    this.report(this.cmd.set(fleetKey(this.nodeId), JSON.stringify(snapshot), 'PX', this.ttlMs))
    this.report(this.cmd.zadd(FLEET_NODES_KEY, now + this.ttlMs, this.nodeId))
    this.report(this.cmd.zremrangebyscore(FLEET_NODES_KEY, '-inf', now))
  }

  async fleet(): Promise<{ snapshots: FleetSnapshot[]; unreadable: number }> {
    const nodes = (
      await this.redis().zrangebyscore(FLEET_NODES_KEY, Date.now(), '+inf', 'LIMIT', 0, MAX_FLEET_NODES + 1)
    ).filter(node => node !== this.nodeId)
    if (nodes.length === 0) return { snapshots: [], unreadable: 0 }
    const values = await this.redis().mget(nodes.slice(0, MAX_FLEET_NODES).map(fleetKey))
    const snapshots: FleetSnapshot[] = []
    let unreadable = 0
    values.forEach((value, i) => {
      if (value === null) return // expired between the two reads
      const snapshot = parseFleetSnapshot(value)
      if (snapshot !== undefined) snapshots.push(snapshot)
      else {
        unreadable++
        this.log.warn('fleet-unreadable', { node: nodes[i]!.slice(0, 64) })
      }
    })
    return { snapshots, unreadable }
  }

  /**
   * Bind a peer id new to this process to it, unless a live process holds it. A holder
   * whose heartbeat lapsed loses it (compare-and-set on that holder, so two takers cannot
   * both win). On success the peer is local before anything awaiting this resumes.
   */
  private async claim(key: string, peer: LocalPeer): Promise<boolean> {
    // Counted before the write, so that concurrent joins of one swarm each write a total that includes the others.
    this.tally(peer)
    const claim = this.bind(peer)
      .then(won => {
        if (won) this.peers.set(key, peer)
        else this.undoTally(peer)
        return won
      })
      .catch((err: unknown) => {
        this.undoTally(peer)
        throw err
      })
      .finally(() => this.claims.delete(key))
    this.claims.set(key, claim)
    return await claim
  }

  /** Run the join script for `peer`; true when this process holds its id afterwards. */
  private async bind(peer: LocalPeer): Promise<boolean> {
    const holder = await this.join(peer, '')
    if (holder === '') return true
    if (!NODE_ID.test(holder) || (await this.isLive(holder))) return false
    return (await this.join(peer, holder)) === ''
  }

  private async join(peer: LocalPeer, takeFrom: string): Promise<string> {
    const keys = [ownersKey(peer.ih), countsKey(peer.ih), ...this.setsOf(peer)]
    const result = await this.redis().p2pcdnJoin(
      keys.length,
      ...keys,
      this.nodeId,
      peer.peer,
      takeFrom,
      KEY_TTL_MS,
      ...this.countFields(peer.ih, [peer.region])
    )
    return typeof result === 'string' ? result : String(result)
  }

  private undoTally(peer: LocalPeer): void {
    this.untally(peer)
    // Another join of the swarm may have written a total that counted this peer: rewrite it.
    if (this.cmd !== undefined && this.tallies.has(peer.ih))
      this.report(this.cmd.hset(countsKey(peer.ih), ...this.countFields(peer.ih, [peer.region])))
    this.dropEmptyTally(peer.ih)
  }

  /** Whether `node`'s heartbeat is current, read afresh: a takeover must not trust a stale list. */
  private async isLive(node: string): Promise<boolean> {
    await this.rereadNodes()
    return this.nodeState(node, 0) === 'live'
  }

  /** Read the list of processes again unless a read is in flight; for ids it does not know yet. */
  private async rereadNodes(): Promise<void> {
    this.nodesRead ??= this.readNodes().finally(() => (this.nodesRead = undefined))
    await this.nodesRead
  }

  /** Re-read the list of processes if a member seen at `seenAt` belongs to one it does not list. */
  private async learnNodes(nodes: Iterable<string>, seenAt: number): Promise<void> {
    for (const node of nodes) {
      if (this.nodeState(node, seenAt) === 'unknown') {
        await this.rereadNodes()
        return
      }
    }
  }

  /**
   * `live`, `dead`, or `unknown`: whether a process whose member was read at `seenAt` is
   * alive, by our list of processes. Only a list read after the member can call it dead:
   * a process too new for an older list, or back from a stall since, is not listed (or
   * listed as lapsed) there, and no process writes members before it is listed.
   */
  private nodeState(node: string, seenAt: number): 'live' | 'dead' | 'unknown' {
    if (node === this.nodeId) return 'live'
    const expiry = this.nodes.get(node)
    if (expiry !== undefined && expiry > Date.now()) return 'live'
    return this.nodesReadAt > seenAt ? 'dead' : 'unknown'
  }

  /** Our list of processes is recent enough to declare one dead and purge its members. */
  private nodesFresh(): boolean {
    return Date.now() - this.nodesReadAt < this.ttlMs / 2
  }

  private async readNodes(): Promise<void> {
    const readAt = Date.now()
    const flat = await this.redis().zrange(NODES_KEY, '0', '-1', 'WITHSCORES')
    const nodes = new Map<string, number>()
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const score = Number(flat[i + 1])
      if (NODE_ID.test(flat[i]!) && Number.isFinite(score)) nodes.set(flat[i]!, score)
    }
    this.nodes = nodes
    this.nodesReadAt = readAt
  }

  private async beat(): Promise<void> {
    const now = Date.now()
    const cmd = this.redis()
    await cmd.zadd(NODES_KEY, now + this.ttlMs, this.nodeId)
    await this.readNodes()
    this.lastBeatMs = now
  }

  /**
   * The heartbeat, and after a stall (this process was not seen for longer than the TTL,
   * so others may have purged its peers or taken their ids) every local peer re-joined:
   * an id another live process took meanwhile stays theirs and is dropped here.
   */
  private async tick(): Promise<void> {
    const cmd = this.cmd
    if (cmd === undefined) return
    const stalled = this.lastBeatMs > 0 && Date.now() - this.lastBeatMs > this.ttlMs
    await this.beat()
    if (stalled) await this.rejoinAll()
    const now = Date.now()
    for (const edge of this.localEdges.values()) this.report(cmd.pexpire(edgeKey(edge.url), this.edgeTtlMs))
    if (now - this.lastKeyRefreshMs > KEY_REFRESH_MS) {
      this.lastKeyRefreshMs = now
      this.refreshKeys(cmd)
      this.report(cmd.zremrangebyscore(NODES_KEY, '-inf', now - NODE_FORGET_MS))
    }
    for (const [ih, r] of this.remote) if (now - r.at > 10 * COUNTS_CACHE_MS) this.remote.delete(ih)
    for (const [key, s] of this.samples) if (now - s.at > 10 * SAMPLE_CACHE_MS) this.samples.delete(key)
  }

  private async rejoinAll(): Promise<void> {
    const peers = [...this.peers.entries()]
    this.log.warn('cluster-stalled', { node: this.nodeId, peers: peers.length })
    const results = await Promise.all(peers.map(async ([, p]) => await this.bind(p).catch(() => true)))
    peers.forEach(([key, p], i) => {
      if (results[i] === true || this.peers.get(key) !== p) return
      this.peers.delete(key)
      this.untally(p)
      if (this.cmd !== undefined)
        this.report(this.writeMove(this.cmd, p, this.setsOf(p), [], true, this.countFields(p.ih, [p.region])))
      this.dropEmptyTally(p.ih)
      this.lost(hexToBinaryString(p.ih), hexToBinaryString(p.peer))
    })
  }

  /** Re-arm the TTL of every key this process's peers are in. */
  private refreshKeys(cmd: RedisClient): void {
    const keys = new Set<string>()
    for (const p of this.peers.values()) {
      keys.add(ownersKey(p.ih)).add(countsKey(p.ih))
      for (const k of this.setsOf(p)) keys.add(k)
    }
    for (const k of keys) this.report(cmd.pexpire(k, KEY_TTL_MS))
  }

  /** The others' counts of a swarm, from Redis at most once per COUNTS_CACHE_MS. */
  private async remoteCounts(ih: string): Promise<RemoteCounts> {
    const cached = this.remote.get(ih)
    if (cached !== undefined && Date.now() - cached.at < COUNTS_CACHE_MS) return cached
    let fetch = this.remoteFetches.get(ih)
    if (fetch === undefined) {
      fetch = this.fetchCounts(ih).finally(() => this.remoteFetches.delete(ih))
      this.remoteFetches.set(ih, fetch)
    }
    return await fetch
  }

  private async fetchCounts(ih: string): Promise<RemoteCounts> {
    const at = Date.now()
    const fields = await this.redis().hgetall(countsKey(ih))
    await this.learnNodes(
      Object.keys(fields).map(f => f.slice(0, f.indexOf('|'))),
      at
    )
    const counts: RemoteCounts = { at, complete: 0, incomplete: 0, regions: [] }
    const regions = new Set<string>()
    const dead: string[] = []
    for (const [field, text] of Object.entries(fields)) {
      const bar = field.indexOf('|')
      const node = field.slice(0, bar)
      if (bar === -1 || node === this.nodeId) continue
      const state = NODE_ID.test(node) ? this.nodeState(node, at) : 'dead'
      if (state !== 'live') {
        if (state === 'dead' && this.nodesFresh()) dead.push(field)
        continue
      }
      const value = Number(text)
      if (!Number.isSafeInteger(value) || value <= 0) continue
      const kind = field.slice(bar + 1)
      if (kind === 's') counts.complete += value
      else if (kind === 'l') counts.incomplete += value
      else if (kind.startsWith('r|')) regions.add(kind.slice(2))
    }
    counts.regions = [...regions]
    if (dead.length > 0) this.report(this.redis().hdel(countsKey(ih), ...dead))
    this.remote.set(ih, counts)
    return counts
  }

  /** Add up to `count` live members of one peer set to `chosen`, from its cached sample. */
  private async draw(
    ih: string,
    key: string,
    except: string,
    count: number,
    chosen: Map<string, ClusterPeer>
  ): Promise<void> {
    if (this.drawCached(ih, key, except, count, chosen) !== 'fetch') return
    // No sample, or one used up by earlier announces: fetched (again), so that a set is seen whole.
    const sample = await this.fetchSample(key)
    if (!sample.checked) {
      sample.checked = true
      await this.learnNodes(
        sample.members.map(m => m.slice(0, m.indexOf('|'))),
        sample.at
      )
    }
    this.take(ih, key, sample, except, count, chosen)
  }

  /**
   * `draw` from the cached sample alone: `fetch` when there is none fresh, or it was used up
   * before `count`; `exhausted` when the set, all of it in the sample, has no more to give.
   */
  private drawCached(
    ih: string,
    key: string,
    except: string,
    count: number,
    chosen: Map<string, ClusterPeer>
  ): 'done' | 'exhausted' | 'fetch' {
    const sample = this.samples.get(key)
    if (sample?.checked !== true || Date.now() - sample.at > SAMPLE_CACHE_MS) return 'fetch'
    this.take(ih, key, sample, except, count, chosen)
    if (chosen.size >= count) return 'done'
    if (sample.whole === undefined) return 'fetch'
    // A small set used up by earlier announces: from the top again, as a fetch would return it.
    sample.members = shuffled(sample.whole)
    this.take(ih, key, sample, except, count, chosen)
    return chosen.size >= count ? 'done' : 'exhausted'
  }

  /** Live members of `sample` into `chosen` up to `count`; the dead are purged, the skipped left for the next draw. */
  private take(
    ih: string,
    key: string,
    sample: Sample,
    except: string,
    count: number,
    chosen: Map<string, ClusterPeer>
  ): void {
    const purge = this.nodesFresh()
    const dead: string[] = []
    /** Seen but not used (the announcer itself, or chosen from another set). */
    const kept: string[] = []
    while (chosen.size < count && sample.members.length > 0) {
      const member = sample.members.pop()!
      const parsed = parseMember(member)
      if (parsed === undefined) {
        if (purge) dead.push(member)
        continue
      }
      if (parsed.peer === except || chosen.has(member)) {
        kept.push(member)
        continue
      }
      const state = this.nodeState(parsed.node, sample.at)
      if (state === 'live') chosen.set(member, { nodeId: parsed.node, peerId: hexToBinaryString(parsed.peer) })
      else if (state === 'dead' && purge) dead.push(member)
    }
    sample.members.push(...kept)
    if (dead.length === 0) return
    this.report(this.redis().p2pcdnPurge(2, ownersKey(ih), key, ...dead))
    if (sample.whole !== undefined) sample.whole = sample.whole.filter(m => !dead.includes(m))
  }

  private async fetchSample(key: string): Promise<Sample> {
    let fetch = this.sampleFetches.get(key)
    if (fetch === undefined) {
      const at = Date.now()
      fetch = this.redis()
        .srandmember(key, SAMPLE_SIZE)
        .then(members => {
          // A set smaller than the count comes back whole, in its own order.
          const sample = {
            at,
            members: shuffled(members),
            checked: false,
            whole: members.length < SAMPLE_SIZE ? members : undefined
          }
          this.samples.set(key, sample)
          return sample
        })
        .finally(() => this.sampleFetches.delete(key))
      this.sampleFetches.set(key, fetch)
    }
    return await fetch
  }

  /** Lines of `<info_hash><peer_id><text>`, ids 20 characters each; whatever does not fit is skipped. */
  private receive(message: string, deliver: DeliverFn): void {
    let pos = 0
    while (pos < message.length) {
      const end = message.indexOf('\n', pos + 2 * ID_CHARS)
      const stop = end === -1 ? message.length : end
      if (stop - pos > 2 * ID_CHARS && isBinary(message, pos, pos + 2 * ID_CHARS))
        deliver(
          message.slice(pos, pos + ID_CHARS),
          message.slice(pos + ID_CHARS, pos + 2 * ID_CHARS),
          message.slice(pos + 2 * ID_CHARS, stop)
        )
      pos = stop + 1
    }
  }

  private flush(): void {
    this.flushing = false
    for (const [node, box] of this.outbox) if (box.lines.length > 0) this.send(node, box.lines)
    this.outbox.clear()
  }

  private send(node: string, lines: string[]): void {
    const cmd = this.cmd
    const message = lines.join('\n')
    lines.length = 0
    const box = this.outbox.get(node)
    if (box !== undefined) box.bytes = 0
    if (cmd === undefined) return
    const sent = this.sharded ? cmd.spublish(relayChannel(node), message) : cmd.publish(relayChannel(node), message)
    sent.catch((err: unknown) => this.log.warn('relay-failed', { node, error: String(err) }))
  }

  private setsOf(p: LocalPeer): string[] {
    const sets = [regionKey(p.ih, p.region)]
    if (p.asn !== undefined) sets.push(asnKey(p.ih, p.asn, p.region))
    return sets
  }

  private async writeMove(
    cmd: ScriptClient,
    p: LocalPeer,
    remove: string[],
    add: string[],
    release: boolean,
    fields: Array<string | number>
  ): Promise<unknown> {
    const keys = [ownersKey(p.ih), countsKey(p.ih), ...remove, ...add]
    return await cmd.p2pcdnMove(
      keys.length,
      ...keys,
      this.nodeId,
      p.peer,
      remove.length,
      release ? '1' : '0',
      ...fields
    )
  }

  private tally(p: LocalPeer): void {
    let t = this.tallies.get(p.ih)
    if (t === undefined) {
      t = { seed: 0, leech: 0, regions: new Map() }
      this.tallies.set(p.ih, t)
    }
    if (p.complete) t.seed++
    else t.leech++
    t.regions.set(p.region, (t.regions.get(p.region) ?? 0) + 1)
  }

  private untally(p: LocalPeer): void {
    const t = this.tallies.get(p.ih)
    if (t === undefined) return
    if (p.complete) t.seed--
    else t.leech--
    const n = (t.regions.get(p.region) ?? 0) - 1
    if (n > 0) t.regions.set(p.region, n)
    else t.regions.delete(p.region)
  }

  private dropEmptyTally(ih: string): void {
    const t = this.tallies.get(ih)
    if (t !== undefined && t.seed + t.leech === 0) this.tallies.delete(ih)
  }

  /** This process's counts in swarm `ih` as hash fields, with those of `regions` (0 once empty). */
  private countFields(ih: string, regions: string[]): Array<string | number> {
    const t = this.tallies.get(ih)
    const fields: Array<string | number> = [`${this.nodeId}|s`, t?.seed ?? 0, `${this.nodeId}|l`, t?.leech ?? 0]
    for (const r of new Set(regions)) fields.push(`${this.nodeId}|r|${r}`, t?.regions.get(r) ?? 0)
    return fields
  }

  private report(write: Promise<unknown>): void {
    write.catch((err: unknown) => this.log.warn('redis-write-failed', { error: String(err) }))
  }

  private redis(): ScriptClient {
    if (this.cmd === undefined) throw new Error('cluster is not connected')
    return this.cmd
  }
}

/** A copy of `items` in random order (Fisher-Yates). */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** Whether `text[from, to)` holds only byte-sized characters, as a WebTorrent id does. */
function isBinary(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) > 0xff) return false
  return true
}

/** An edge as another process stored it; undefined unless it has the fields every reader uses. */
function parseEdge(text: string): EdgeInfo | undefined {
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value !== 'object' || value === null) return undefined
    const edge = value as Partial<EdgeInfo>
    return typeof edge.url === 'string' && typeof edge.region === 'string' ? (value as EdgeInfo) : undefined
  } catch {
    return undefined
  }
}
