/**
 * Cluster mode on a real 3-node Redis Cluster (no replicas) with three `p2pcdn tracker
 * --redis <seed>,<seed>,<seed>` processes: swarms hashed to every shard are counted and
 * matched across processes, offers and answers cross processes over sharded pub/sub, a
 * swarm's keys stay on its one shard, peer ids are bound cluster-wide (and a stalled
 * process does not take back an id claimed meanwhile), a killed process's peers stop
 * counting within the TTL, the swarm cap holds cluster-wide, and a re-announce costs
 * (well) under one Redis command.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { binaryStringToHex } from '../../protocol/src/index.js'
import { COUNTS_CACHE_MS } from '../../tracker/src/redis-cluster.js'
import {
  binaryId,
  connectRaw,
  fakeSdp,
  isAnnounceReply,
  isAnswer,
  isFailure,
  isOffer
} from '../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../helpers/tracker-client.js'
import { join } from '../helpers/tracker-harness.js'
import { startTrackerProcess } from '../helpers/tracker-process.js'
import type { TrackerProcess } from '../helpers/tracker-process.js'
import { startRedisCluster } from '../helpers/tracker-redis.js'
import type { RedisClusterProcess } from '../helpers/tracker-redis.js'

const TTL_MS = 1500
const MAX_PEERS_PER_SWARM = 4

let redis: RedisClusterProcess
/** One plain connection per Redis node, to look at where keys live and what was run. */
let shards: Redis[] = []
const nodes: TrackerProcess[] = []
const clients: RawTrackerClient[] = []

beforeAll(async () => {
  redis = await startRedisCluster(3)
  shards = redis.nodeUrls.map(url => new Redis(url))
  const args = [
    '--redis',
    redis.url,
    '--cluster-ttl-ms',
    String(TTL_MS),
    '--max-peers-per-swarm',
    String(MAX_PEERS_PER_SWARM)
  ]
  nodes.push(...(await Promise.all([0, 1, 2].map(async () => await startTrackerProcess(args)))))
}, 60_000)

afterAll(async () => {
  await Promise.all(clients.map(async c => await c.close()))
  for (const node of nodes) node.proc.kill('SIGKILL')
  for (const shard of shards) shard.disconnect()
  await redis?.stop()
})

async function connect(node: TrackerProcess): Promise<RawTrackerClient> {
  const client = await connectRaw(node.url)
  clients.push(client)
  return client
}

/** Which Redis node (index in `shards`) holds the slot of `infoHash`'s keys. */
async function shardOf(infoHash: string): Promise<number> {
  const slot = Number(await shards[0]!.cluster('KEYSLOT', `{${binaryStringToHex(infoHash)}}`))
  const ranges = await shards[0]!.cluster('SLOTS')
  const range = ranges.find(([start, end]) => slot >= start && slot <= end)!
  return redis.nodeUrls.indexOf(`redis://127.0.0.1:${range[2]![1]}`)
}

/** An info hash whose keys hash to shard `want`. */
async function infoHashOnShard(want: number): Promise<string> {
  for (;;) {
    const infoHash = binaryId()
    if ((await shardOf(infoHash)) === want) return infoHash
  }
}

/** How many of `infoHash`'s keys each Redis node holds. */
async function keysPerShard(infoHash: string): Promise<number[]> {
  const pattern = `p2pcdn:sw:{${binaryStringToHex(infoHash)}}:*`
  return await Promise.all(shards.map(async s => (await s.keys(pattern)).length))
}

describe('three tracker processes on a 3-node Redis Cluster', () => {
  it('counts, matches and relays across processes for swarms on every shard, each swarm on one shard', async () => {
    for (const shard of [0, 1, 2]) {
      const [a, b, c] = [await connect(nodes[0]!), await connect(nodes[1]!), await connect(nodes[2]!)]
      const infoHash = await infoHashOnShard(shard)
      const [peerA, peerB, peerC] = [binaryId(), binaryId(), binaryId()]
      expect(await join(b, infoHash, peerB)).toMatchObject({ incomplete: 1 })
      expect(await join(c, infoHash, peerC, { left: 0 })).toMatchObject({ complete: 1, incomplete: 1 })

      const offers = [0, 1].map(i => ({ offer: fakeSdp('offer', `s${shard}o${i}`), offer_id: binaryId() }))
      a.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, event: 'started', numwant: 2, offers })
      expect(await a.next(isAnnounceReply)).toMatchObject({ complete: 1, incomplete: 2 })
      const [atB, atC] = await Promise.all([b.next(isOffer), c.next(isOffer)])
      expect([atB.peer_id, atC.peer_id]).toEqual([peerA, peerA])
      c.send({
        action: 'announce',
        info_hash: infoHash,
        peer_id: peerC,
        to_peer_id: peerA,
        offer_id: atC.offer_id,
        answer: fakeSdp('answer', `s${shard}`)
      })
      expect(await a.next(isAnswer)).toMatchObject({ peer_id: peerC, offer_id: atC.offer_id })

      const held = await keysPerShard(infoHash)
      expect(held.filter(n => n > 0)).toHaveLength(1)
      expect(held[shard]).toBeGreaterThan(0)
    }
  })

  it('binds a peer id to one process across shards, and frees it when its owner leaves', async () => {
    const [a, b] = [await connect(nodes[0]!), await connect(nodes[1]!)]
    const infoHash = await infoHashOnShard(2)
    const peerA = binaryId()
    await join(a, infoHash, peerA)
    b.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, event: 'started' })
    expect(await b.next(isFailure)).toMatchObject({ code: 'ERR_PROTOCOL', info_hash: infoHash })
    a.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, event: 'stopped' })
    await a.next(isAnnounceReply)
    expect(await join(b, infoHash, peerA)).toMatchObject({ incomplete: 1 })
  })

  it('costs well under one Redis command per re-announce, summed over every shard', async () => {
    const infoHashes = await Promise.all([0, 1, 2].map(infoHashOnShard))
    const members: Array<{ client: RawTrackerClient; infoHash: string; peerId: string }> = []
    for (let i = 0; i < 9; i++) {
      const client = await connect(nodes[i % 3]!)
      const infoHash = infoHashes[Math.floor(i / 3)]!
      const peerId = binaryId()
      await join(client, infoHash, peerId)
      members.push({ client, infoHash, peerId })
    }
    await Promise.all(shards.map(async s => await s.config('RESETSTAT')))
    const rounds = 40
    for (let r = 0; r < rounds; r++) {
      await Promise.all(
        members.map(async m => {
          m.client.send({ action: 'announce', info_hash: m.infoHash, peer_id: m.peerId, event: 'update', numwant: 0 })
          await m.client.next(isAnnounceReply)
        })
      )
    }
    const calls = (await Promise.all(shards.map(async s => commandCalls(await s.info('commandstats'))))).reduce(
      (sum, n) => sum + n,
      0
    )
    // Heartbeats (two per process per TTL/3) and the once-a-second counts per swarm and process are all there is.
    expect(calls / (rounds * members.length)).toBeLessThan(0.3)
  })

  it('holds the swarm cap across processes, within a second', async () => {
    const infoHash = await infoHashOnShard(1)
    for (let i = 0; i < MAX_PEERS_PER_SWARM; i++) await join(await connect(nodes[i % 3]!), infoHash, binaryId())
    const late = await connect(nodes[1]!)
    const deadline = Date.now() + COUNTS_CACHE_MS + 3000
    let refused: Json | undefined
    while (refused === undefined && Date.now() < deadline) {
      const peerId = binaryId()
      late.send({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'started', numwant: 0 })
      const reply = await late.next(msg => isAnnounceReply(msg) || isFailure(msg))
      if (isFailure(reply)) refused = reply
      else {
        // Let in on a count up to a second old: leave again, and retry once it is counted afresh.
        late.send({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'stopped' })
        await late.next(isAnnounceReply)
        await new Promise(resolve => setTimeout(resolve, 200))
      }
    }
    expect(refused).toMatchObject({ 'failure reason': 'swarm is full; try again later' })
  })

  it('never takes back, after a stall, a peer id another live process claimed meanwhile', async () => {
    const [a, c] = [await connect(nodes[0]!), await connect(nodes[2]!)]
    const infoHash = await infoHashOnShard(0)
    const peerX = binaryId()
    await join(c, infoHash, peerX)
    // Process 2 stops answering anything, heartbeat included, for longer than the TTL.
    nodes[2]!.proc.kill('SIGSTOP')
    const b = await connect(nodes[1]!)
    const deadline = Date.now() + 4 * TTL_MS
    let reply: Json = {}
    while (Date.now() < deadline) {
      b.send({ action: 'announce', info_hash: infoHash, peer_id: peerX, event: 'started', numwant: 0 })
      reply = await b.next(msg => isAnnounceReply(msg) || isFailure(msg))
      if (isAnnounceReply(reply)) break
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(reply).toMatchObject({ incomplete: 1 })
    nodes[2]!.proc.kill('SIGCONT')
    // Once it runs again it sees the id is someone else's: its socket is told, and the peer dropped.
    expect(await c.next(isFailure, 4 * TTL_MS)).toMatchObject({ info_hash: infoHash, code: 'ERR_PROTOCOL' })
    // Answers for peerX go to process 1's socket, and the swarm counts one peerX.
    const peerA = binaryId()
    expect(await join(a, infoHash, peerA)).toMatchObject({ incomplete: 2 })
    const offerId = binaryId()
    a.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: peerA,
      to_peer_id: peerX,
      offer_id: offerId,
      answer: fakeSdp('answer', 'x')
    })
    expect(await b.next(isAnswer)).toMatchObject({ offer_id: offerId })
  })

  it('stops counting the peers of a killed process within the TTL', async () => {
    const [a, c] = [await connect(nodes[0]!), await connect(nodes[2]!)]
    const infoHash = await infoHashOnShard(1)
    const peerA = binaryId()
    await join(c, infoHash, binaryId())
    expect(await join(a, infoHash, peerA)).toMatchObject({ incomplete: 2 })
    nodes[2]!.proc.kill('SIGKILL')
    const deadline = Date.now() + 4 * TTL_MS
    let incomplete = 2
    while (incomplete !== 1 && Date.now() < deadline) {
      a.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, event: 'update' })
      incomplete = (await a.next(isAnnounceReply)).incomplete as number
      if (incomplete !== 1) await new Promise(resolve => setTimeout(resolve, 100))
    }
    expect(incomplete).toBe(1)
  })
})

/** Sum of `calls=` over every command in an `INFO commandstats` text. */
function commandCalls(info: string): number {
  let sum = 0
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    // The INFO and CONFIG of this test itself are not the tracker's.
    if (match[1] !== 'info' && match[1] !== 'config|resetstat') sum += Number(match[2])
  }
  return sum
}
