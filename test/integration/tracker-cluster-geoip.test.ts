/**
 * Same network first in cluster mode: two `p2pcdn tracker --redis --geoip-asn` processes
 * and a real redis-server. An announcer on one process gets the peers of its own ASN on
 * the other process first, out of a swarm mostly on another network.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { binaryId, connectRaw, fakeSdp, isAnnounceReply, isOffer } from '../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../helpers/tracker-client.js'
import { writeMmdb } from '../helpers/mmdb-writer.js'
import { join } from '../helpers/tracker-harness.js'
import { startTrackerProcess } from '../helpers/tracker-process.js'
import { startRedis } from '../helpers/tracker-redis.js'
import { Redis } from 'ioredis'
import { binaryStringToHex } from '../../protocol/src/index.js'
import { SAMPLE_CACHE_MS } from '../../tracker/src/redis-cluster.js'
import type { RedisProcess } from '../helpers/tracker-redis.js'

const ASN_DB = writeMmdb(
  [
    { cidr: '192.0.2.0/25', data: { autonomous_system_number: 64500 } },
    { cidr: '192.0.2.128/25', data: { autonomous_system_number: 64501 } }
  ],
  { databaseType: 'GeoLite2-ASN' }
)

let redis: RedisProcess
let dir: string
const procs: ChildProcess[] = []
const clients: RawTrackerClient[] = []

async function startNode(redisUrl: string, asnFile: string): Promise<string> {
  const node = await startTrackerProcess(['--redis', redisUrl, '--geoip-asn', asnFile, '--trust-proxy'])
  procs.push(node.proc)
  return node.url
}

async function connect(url: string, address: string): Promise<RawTrackerClient> {
  const client = await connectRaw(url, { headers: { 'x-forwarded-for': address } })
  clients.push(client)
  return client
}

let urls: string[] = []
beforeAll(async () => {
  redis = await startRedis()
  dir = await mkdtemp(joinPath(tmpdir(), 'p2pcdn-cluster-geoip-'))
  const asnFile = joinPath(dir, 'asn.mmdb')
  await writeFile(asnFile, ASN_DB)
  urls = await Promise.all([startNode(redis.url, asnFile), startNode(redis.url, asnFile)])
}, 60_000)

afterAll(async () => {
  await Promise.all(clients.map(async c => await c.close()))
  for (const proc of procs) proc.kill('SIGKILL')
  await redis?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('two tracker processes with an ASN database', () => {
  it('offers the peers of the announcer`s network first, across processes', async () => {
    const [a, b] = urls as [string, string]
    const infoHash = binaryId()
    // On b: 2 peers on AS 64500, 8 on AS 64501; on a: 8 more on 64501, and the announcer on 64500.
    const members: Array<{ client: RawTrackerClient; peerId: string; asn: number }> = []
    for (const [url, asn, host] of [
      ...[1, 2].map(i => [b, 64500, i] as const),
      ...[1, 2, 3, 4, 5, 6, 7, 8].map(i => [b, 64501, 128 + i] as const),
      ...[9, 10, 11, 12, 13, 14, 15, 16].map(i => [a, 64501, 128 + i] as const)
    ]) {
      const client = await connect(url, `192.0.2.${host}`)
      const peerId = binaryId()
      await join(client, infoHash, peerId)
      members.push({ client, peerId, asn })
    }
    const announcer = await connect(a, '192.0.2.50')
    const announcerId = binaryId()
    await join(announcer, infoHash, announcerId)

    /** The networks of the members that got one of 2 offers from the announcer. */
    async function offerNetworks(tag: string): Promise<number[]> {
      const offers = [0, 1].map(i => ({ offer: fakeSdp('offer', `${tag}${i}`), offer_id: binaryId() }))
      announcer.send({ action: 'announce', info_hash: infoHash, peer_id: announcerId, numwant: 2, offers })
      await announcer.next(isAnnounceReply)
      const ids = new Set(offers.map(o => o.offer_id))
      const ours = (msg: Json): boolean => isOffer(msg) && ids.has(msg.offer_id as string)
      const got = await Promise.all(
        members.map(
          async m =>
            await m.client.next(ours, 500).then(
              () => m.asn,
              () => undefined
            )
        )
      )
      return got.filter((asn): asn is number => asn !== undefined).sort()
    }

    for (let round = 0; round < 3; round++) expect(await offerNetworks(`r${round}`)).toEqual([64500, 64500])
    // One of them leaves: it is out of its network's set in Redis at once, not when its
    // process's entry expires (the TTL is 30 s here); the other process, which draws from a
    // sample of the set for up to SAMPLE_CACHE_MS, stops offering it within that.
    const leaver = members.shift()!
    leaver.client.send({ action: 'announce', info_hash: infoHash, peer_id: leaver.peerId, event: 'stopped' })
    await leaver.client.next(isAnnounceReply)
    const db = new Redis(redis.url)
    try {
      const set = (await db.keys(`p2pcdn:sw:{${binaryStringToHex(infoHash)}}:asn:64500:r:*`))[0]!
      expect((await db.smembers(set)).map(m => m.split('|')[1])).not.toContain(binaryStringToHex(leaver.peerId))
    } finally {
      db.disconnect()
    }
    const deadline = Date.now() + SAMPLE_CACHE_MS + 3000
    let networks = await offerNetworks('left')
    while (networks.join() !== '64500,64501' && Date.now() < deadline) networks = await offerNetworks('again')
    expect(networks).toEqual([64500, 64501])
  })
})
