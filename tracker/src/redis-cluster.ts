/**
 * Cluster mode through Redis: every process writes its own peers and edges into shared
 * keys that expire unless refreshed, reads the others' when it matches offers, and relays
 * offers and answers to the process holding the target socket over pub/sub.
 *
 * Keys (ids as hex, so any byte is safe in a key):
 * - `p2pcdn:sw:<ih>:r:<region>` sorted set of `<node>|<peer>`, score = expiry (ms)
 * - `p2pcdn:sw:<ih>:asn:<asn>:r:<region>` the same for the peers of that region whose
 *   network (GeoIP ASN) is known, by network (digits first, so no region name can collide)
 * - `p2pcdn:sw:<ih>:seed` / `:leech` the same members, for counts
 * - `p2pcdn:sw:<ih>:regions` sorted set of region names, score = expiry
 * - `p2pcdn:peer:<ih>:<peer>` the node holding that peer (PX = TTL), to route answers and
 *   to bind a peer id to one process (set only by the node that holds it, or once it expired)
 * - `p2pcdn:edge:<url>` one edge as JSON (PX = edge silence limit); `p2pcdn:edges` the set of urls
 * - `p2pcdn:fleet:<node>` that node's fleet statistics as JSON (PX = TTL); `p2pcdn:fleet-nodes`
 *   sorted set of node ids, score = expiry
 * - channel `p2pcdn:relay:<node>`: `<ih>|<peer>|<json text>` for that node's socket
 *
 * Sorted sets with expiry scores let a single member expire, which a Redis key TTL cannot:
 * a dead process's peers stop being chosen once their score passes, and are purged lazily.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { binaryStringToHex, hexToBinaryString } from '../../protocol/src/index.js'
import type { EdgeInfo, Logger } from '../../protocol/src/index.js'
import type { Cluster, ClusterPeer, DeliverFn } from './cluster.js'
import { parseFleetSnapshot } from './fleet-stats.js'
import type { FleetSnapshot } from './fleet-stats.js'
import { EDGE_MISSED_HEARTBEATS } from './config.js'
import type { TrackerConfig } from './config.js'

const PREFIX = 'p2pcdn:'
const EDGES_KEY = `${PREFIX}edges`
const FLEET_NODES_KEY = `${PREFIX}fleet-nodes`
/** Most processes whose fleet figures are read for one dashboard poll. */
const MAX_FLEET_NODES = 256
/** Owner key: set it to this node unless another node holds it. Atomic, as a script. */
const CLAIM_SCRIPT = `local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`

interface LocalPeer {
  ih: string
  peer: string
  region: string
  complete: boolean
  asn: number | undefined
}

export class RedisCluster implements Cluster {
  readonly nodeId = randomBytes(6).toString('hex')
  private readonly url: string
  private readonly ttlMs: number
  private readonly edgeTtlMs: number
  private readonly log: Logger
  private readonly peers = new Map<string, LocalPeer>()
  /** Claims in flight, by `<ih>|<peer>`: later updates of that peer wait for them. */
  private readonly claims = new Map<string, Promise<boolean>>()
  private readonly localEdges = new Map<string, EdgeInfo>()
  private cmd: Redis | undefined
  private sub: Redis | undefined
  private timer: NodeJS.Timeout | undefined

  constructor(url: string, config: TrackerConfig, log: Logger) {
    this.url = url
    this.ttlMs = config.clusterTtlMs
    this.edgeTtlMs = EDGE_MISSED_HEARTBEATS * config.edgeHeartbeatMs
    this.log = log
  }

  async start(deliver: DeliverFn): Promise<void> {
    const options = { lazyConnect: true, maxRetriesPerRequest: 2 }
    const cmd = new Redis(this.url, options)
    const sub = new Redis(this.url, options)
    // ioredis reconnects by itself; without a listener an outage would crash the process.
    for (const client of [cmd, sub])
      client.on('error', (err: Error) => this.log.warn('redis-error', { error: err.message }))
    await Promise.all([cmd.connect(), sub.connect()])
    sub.on('message', (_channel: string, message: string) => {
      const a = message.indexOf('|')
      const b = message.indexOf('|', a + 1)
      if (a === -1 || b === -1) return
      deliver(hexToBinaryString(message.slice(0, a)), hexToBinaryString(message.slice(a + 1, b)), message.slice(b + 1))
    })
    await sub.subscribe(this.channel(this.nodeId))
    this.cmd = cmd
    this.sub = sub
    this.timer = setInterval(
      () => {
        this.refresh()
      },
      Math.max(50, Math.floor(this.ttlMs / 3))
    )
    this.timer.unref()
    this.log.info('cluster-joined', { node: this.nodeId, ttlMs: this.ttlMs })
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    const cmd = this.cmd
    if (cmd === undefined) return
    this.cmd = undefined
    const pipe = cmd.pipeline()
    for (const p of this.peers.values()) this.writeLeave(pipe, p)
    for (const url of this.localEdges.keys()) pipe.del(edgeKey(url)).srem(EDGES_KEY, url)
    // A process that stops takes its figures with it, as a dead one does once they expire.
    pipe.del(fleetKey(this.nodeId)).zrem(FLEET_NODES_KEY, this.nodeId)
    await pipe.exec().catch(() => {})
    this.peers.clear()
    await Promise.all([cmd.quit(), this.sub?.quit()].map(async p => await p?.catch(() => {})))
    this.log.info('cluster-left', { node: this.nodeId })
  }

  async peerUpdated(
    infoHash: string,
    peerId: string,
    region: string,
    complete: boolean,
    asn: number | undefined
  ): Promise<boolean> {
    const ih = binaryStringToHex(infoHash)
    const peer = binaryStringToHex(peerId)
    const key = `${ih}|${peer}`
    const next: LocalPeer = { ih, peer, region, complete, asn }
    // A claim of this peer in flight decides first; then the state is read afresh.
    await this.claims.get(key)?.catch(() => false)
    if (!this.peers.has(key) && !(await this.claim(key, next))) return false
    const cmd = this.cmd
    const before = this.peers.get(key)
    // Gone already: it stopped while its claim was in flight.
    if (cmd === undefined || before === undefined) return true
    const pipe = cmd.pipeline()
    if (before.region !== region || before.complete !== complete || before.asn !== asn) this.writeLeave(pipe, before)
    this.peers.set(key, next)
    this.writeJoin(pipe, next, Date.now() + this.ttlMs)
    this.exec(pipe)
    return true
  }

  peerLeft(infoHash: string, peerId: string): void {
    const key = `${binaryStringToHex(infoHash)}|${binaryStringToHex(peerId)}`
    const pending = this.claims.get(key)
    // Leave after the claim settles, or a claim that succeeds later would re-add the peer.
    if (pending !== undefined) {
      pending.then(
        () => this.peerLeft(infoHash, peerId),
        () => {}
      )
      return
    }
    const before = this.peers.get(key)
    if (before === undefined || this.cmd === undefined) return
    this.peers.delete(key)
    const pipe = this.cmd.pipeline()
    this.writeLeave(pipe, before)
    this.exec(pipe)
  }

  async counts(infoHash: string): Promise<{ complete: number; incomplete: number }> {
    const ih = binaryStringToHex(infoHash)
    const now = Date.now()
    const [complete, incomplete] = await Promise.all([
      this.redis().zcount(swarmKey(ih, 'seed'), now, '+inf'),
      this.redis().zcount(swarmKey(ih, 'leech'), now, '+inf')
    ])
    return { complete, incomplete }
  }

  async choosePeers(
    infoHash: string,
    exceptPeerId: string,
    region: string,
    neighbours: readonly string[],
    count: number,
    asn: number | undefined
  ): Promise<ClusterPeer[]> {
    const ih = binaryStringToHex(infoHash)
    const except = binaryStringToHex(exceptPeerId)
    const chosen = new Map<string, ClusterPeer>()
    if (asn !== undefined) await this.sample(swarmKey(ih, asnPart(asn, region)), except, count, chosen)
    const tiers = [region, ...neighbours]
    for (let i = 0; i < tiers.length && chosen.size < count; i++)
      await this.sampleRegion(ih, tiers[i]!, except, count, chosen)
    if (chosen.size < count) {
      const now = Date.now()
      const regions = await this.redis().zrangebyscore(swarmKey(ih, 'regions'), now, '+inf')
      for (const other of regions) {
        if (chosen.size >= count) break
        if (!tiers.includes(other)) await this.sampleRegion(ih, other, except, count, chosen)
      }
    }
    return [...chosen.values()]
  }

  async locate(infoHash: string, peerId: string): Promise<string | undefined> {
    const node = await this.redis().get(`${PREFIX}peer:${binaryStringToHex(infoHash)}:${binaryStringToHex(peerId)}`)
    return node ?? undefined
  }

  relay(nodeId: string, infoHash: string, peerId: string, text: string): void {
    this.redis()
      .publish(this.channel(nodeId), `${binaryStringToHex(infoHash)}|${binaryStringToHex(peerId)}|${text}`)
      .catch((err: unknown) => this.log.warn('relay-failed', { node: nodeId, error: String(err) }))
  }

  edgeUpdated(edge: EdgeInfo): void {
    this.localEdges.set(edge.url, edge)
    this.exec(
      this.redis()
        .pipeline()
        .set(edgeKey(edge.url), JSON.stringify(edge), 'PX', this.edgeTtlMs)
        .sadd(EDGES_KEY, edge.url)
    )
  }

  edgeRemoved(url: string): void {
    if (!this.localEdges.delete(url) || this.cmd === undefined) return
    this.exec(this.cmd.pipeline().del(edgeKey(url)).srem(EDGES_KEY, url))
  }

  async edges(): Promise<EdgeInfo[]> {
    const urls = await this.redis().smembers(EDGES_KEY)
    if (urls.length === 0) return []
    const values = await this.redis().mget(urls.map(edgeKey))
    const edges: EdgeInfo[] = []
    const expired: string[] = []
    values.forEach((value, i) => {
      if (value === null) expired.push(urls[i]!)
      else edges.push(JSON.parse(value) as EdgeInfo)
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
    this.exec(
      this.cmd
        .pipeline()
        .set(fleetKey(this.nodeId), JSON.stringify(snapshot), 'PX', this.ttlMs)
        .zadd(FLEET_NODES_KEY, now + this.ttlMs, this.nodeId)
        .zremrangebyscore(FLEET_NODES_KEY, '-inf', now)
    )
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
   * Bind a peer id new to this process to it, unless a live peer of another process has
   * it. On success the peer is local (in `peers`) before anything awaiting this resumes.
   */
  private async claim(key: string, peer: LocalPeer): Promise<boolean> {
    const claim = this.redis()
      .eval(CLAIM_SCRIPT, 1, `${PREFIX}peer:${peer.ih}:${peer.peer}`, this.nodeId, this.ttlMs)
      .then(won => {
        if (won !== 1) return false
        this.peers.set(key, peer)
        return true
      })
      .finally(() => this.claims.delete(key))
    this.claims.set(key, claim)
    return await claim
  }

  private async sampleRegion(
    ih: string,
    region: string,
    except: string,
    count: number,
    chosen: Map<string, ClusterPeer>
  ): Promise<void> {
    await this.sample(swarmKey(ih, `r:${region}`), except, count, chosen)
  }

  /** Add random live members of one peer set (`key`) of the swarm to `chosen`, and purge dead ones. */
  private async sample(key: string, except: string, count: number, chosen: Map<string, ClusterPeer>): Promise<void> {
    const now = Date.now()
    const [, sample] = await Promise.all([
      this.redis().zremrangebyscore(key, '-inf', now),
      this.redis().zrandmember(key, 2 * count + 2, 'WITHSCORES') as Promise<unknown>
    ])
    const flat = Array.isArray(sample) ? (sample.flat() as string[]) : []
    for (let i = 0; i + 1 < flat.length && chosen.size < count; i += 2) {
      const member = flat[i]!
      if (Number(flat[i + 1]) <= now) continue
      const [node = '', peer = ''] = member.split('|')
      if (peer === except || chosen.has(member)) continue
      chosen.set(member, { nodeId: node, peerId: hexToBinaryString(peer) })
    }
  }

  /** Re-add every local peer and edge with a fresh expiry; what keeps this process visible. */
  private refresh(): void {
    const cmd = this.cmd
    if (cmd === undefined) return
    const expiry = Date.now() + this.ttlMs
    const pipe = cmd.pipeline()
    for (const p of this.peers.values()) this.writeJoin(pipe, p, expiry)
    for (const edge of this.localEdges.values()) pipe.pexpire(edgeKey(edge.url), this.edgeTtlMs)
    this.exec(pipe)
  }

  private writeJoin(pipe: ReturnType<Redis['pipeline']>, p: LocalPeer, expiry: number): void {
    const member = `${this.nodeId}|${p.peer}`
    // Whole swarm keys vanish too once every process holding its peers is gone.
    const keyTtl = 2 * this.ttlMs
    pipe
      .zadd(swarmKey(p.ih, `r:${p.region}`), expiry, member)
      .pexpire(swarmKey(p.ih, `r:${p.region}`), keyTtl)
      .zadd(swarmKey(p.ih, p.complete ? 'seed' : 'leech'), expiry, member)
      .pexpire(swarmKey(p.ih, p.complete ? 'seed' : 'leech'), keyTtl)
      .zadd(swarmKey(p.ih, 'regions'), expiry, p.region)
      .pexpire(swarmKey(p.ih, 'regions'), keyTtl)
      .set(`${PREFIX}peer:${p.ih}:${p.peer}`, this.nodeId, 'PX', this.ttlMs)
    if (p.asn !== undefined) {
      const key = swarmKey(p.ih, asnPart(p.asn, p.region))
      pipe.zadd(key, expiry, member).pexpire(key, keyTtl)
    }
  }

  private writeLeave(pipe: ReturnType<Redis['pipeline']>, p: LocalPeer): void {
    const member = `${this.nodeId}|${p.peer}`
    pipe
      .zrem(swarmKey(p.ih, `r:${p.region}`), member)
      .zrem(swarmKey(p.ih, 'seed'), member)
      .zrem(swarmKey(p.ih, 'leech'), member)
      .del(`${PREFIX}peer:${p.ih}:${p.peer}`)
    if (p.asn !== undefined) pipe.zrem(swarmKey(p.ih, asnPart(p.asn, p.region)), member)
  }

  private exec(pipe: ReturnType<Redis['pipeline']>): void {
    pipe.exec().catch((err: unknown) => this.log.warn('redis-write-failed', { error: String(err) }))
  }

  private redis(): Redis {
    if (this.cmd === undefined) throw new Error('cluster is not connected')
    return this.cmd
  }

  private channel(nodeId: string): string {
    return `${PREFIX}relay:${nodeId}`
  }
}

function swarmKey(ih: string, part: string): string {
  return `${PREFIX}sw:${ih}:${part}`
}

/** The key part of one region's peers on network `asn`. */
function asnPart(asn: number, region: string): string {
  return `asn:${asn}:r:${region}`
}

function fleetKey(node: string): string {
  return `${PREFIX}fleet:${node}`
}

function edgeKey(url: string): string {
  return `${PREFIX}edge:${url}`
}
