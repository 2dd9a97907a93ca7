/**
 * Regions: a CIDR map (with X-Forwarded-For behind a trusted proxy) decides a peer's
 * region over what it claims; offers stay in the region while it has enough peers, then
 * go to neighbour regions, then anywhere; edges are listed in the same order.
 */
import { describe, expect, it } from 'vitest'
import type { Tracker } from '../../tracker/src/index.js'
import { binaryId, fakeSdp, getJson, isAnnounceReply, isOffer } from '../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../helpers/tracker-client.js'
import { join, useTrackers } from '../helpers/tracker-harness.js'

const trackers = useTrackers()

const REGIONS = {
  cidrs: {
    eu: ['10.1.0.0/16'],
    us: ['10.2.0.0/16', '2001:db8:2::/48'],
    asia: ['10.3.0.0/16'],
    'eu-paris': ['10.1.7.0/24']
  },
  neighbours: { eu: ['us'], us: ['eu'], asia: ['us'] }
}
const ADDRESS: Record<string, string> = { eu: '10.1.0.', us: '10.2.0.', asia: '10.3.0.' }

interface Member {
  client: RawTrackerClient
  peerId: string
  region: string
}

/** `perRegion` peers in each of eu, us, asia, connecting through a "proxy" with their address in X-Forwarded-For. */
async function swarmOf(tracker: Tracker, infoHash: string, perRegion: Record<string, number>): Promise<Member[]> {
  const members: Member[] = []
  for (const [region, n] of Object.entries(perRegion)) {
    for (let i = 0; i < n; i++) {
      const client = await trackers.connect(tracker, {
        headers: { 'x-forwarded-for': `203.0.113.9, ${ADDRESS[region]}${i + 1}` }
      })
      const peerId = binaryId()
      // The claim is wrong on purpose: the map must win.
      await join(client, infoHash, peerId, { region: 'asia' })
      members.push({ client, peerId, region })
    }
  }
  return members
}

/** `from` sends `n` offers; returns the region of every member that got one. */
async function offerRegions(from: Member, members: Member[], infoHash: string, n: number): Promise<string[]> {
  const offers = Array.from({ length: n }, (_, i) => ({ offer: fakeSdp('offer', `r${i}`), offer_id: binaryId() }))
  from.client.send({ action: 'announce', info_hash: infoHash, peer_id: from.peerId, numwant: n, offers })
  await from.client.next(isAnnounceReply)
  const fromPeer = (msg: Json): boolean => isOffer(msg) && msg.peer_id === from.peerId
  const got = await Promise.all(
    members
      .filter(m => m !== from)
      .map(
        async m =>
          await m.client.next(fromPeer, 300).then(
            () => m.region,
            () => undefined
          )
      )
  )
  return got.filter((r): r is string => r !== undefined).sort()
}

describe('three regions', () => {
  it('keeps offers inside the region while it has enough peers, then neighbours, then any', async () => {
    const tracker = await trackers.start({ regions: REGIONS, trustProxy: true })
    const infoHash = binaryId()
    const members = await swarmOf(tracker, infoHash, { eu: 4, us: 4, asia: 4 })
    const [eu, us, asia] = ['eu', 'us', 'asia'].map(r => members.find(m => m.region === r)!)

    // Enough peers at home: every offer stays in the region, for each region, every time.
    for (let round = 0; round < 3; round++) {
      expect(await offerRegions(eu!, members, infoHash, 3)).toEqual(['eu', 'eu', 'eu'])
      expect(await offerRegions(us!, members, infoHash, 3)).toEqual(['us', 'us', 'us'])
      expect(await offerRegions(asia!, members, infoHash, 3)).toEqual(['asia', 'asia', 'asia'])
    }
    // Too few at home: the configured neighbour fills first (eu → us), the rest come after.
    expect(await offerRegions(eu!, members, infoHash, 7)).toEqual(['eu', 'eu', 'eu', 'us', 'us', 'us', 'us'])
    expect(await offerRegions(eu!, members, infoHash, 9)).toEqual([
      'asia',
      'asia',
      'eu',
      'eu',
      'eu',
      'us',
      'us',
      'us',
      'us'
    ])

    const stats = (await getJson(`${tracker.httpUrl}/stats`)).body as Json
    expect(stats.peersByRegion).toEqual({ eu: 4, us: 4, asia: 4 })
  })

  it('takes the longest matching prefix, and ignores X-Forwarded-For without trustProxy', async () => {
    const tracker = await trackers.start({ regions: REGIONS, trustProxy: true })
    const paris = await trackers.connect(tracker, { headers: { 'x-forwarded-for': '10.1.7.20' } })
    const v6 = await trackers.connect(tracker, { headers: { 'x-forwarded-for': '2001:db8:2::5' } })
    const unmapped = await trackers.connect(tracker, { headers: { 'x-forwarded-for': '192.0.2.1' } })
    const infoHash = binaryId()
    await join(paris, infoHash, binaryId(), { region: 'asia' })
    await join(v6, infoHash, binaryId())
    await join(unmapped, infoHash, binaryId(), { region: 'mars' })
    expect(((await getJson(`${tracker.httpUrl}/stats`)).body as Json).peersByRegion).toEqual({
      'eu-paris': 1,
      us: 1,
      mars: 1
    })

    const direct = await trackers.start({ regions: REGIONS })
    const spoofer = await trackers.connect(direct, { headers: { 'x-forwarded-for': '10.1.0.1' } })
    await join(spoofer, binaryId(), binaryId(), { region: 'us' })
    expect(((await getJson(`${direct.httpUrl}/stats`)).body as Json).peersByRegion).toEqual({ us: 1 })
  })

  it('lists edges by region, then neighbour regions, then least loaded', async () => {
    const tracker = await trackers.start({ regions: REGIONS, edgeToken: 'secret' })
    const edges: Array<[string, string, number]> = [
      ['https://asia.cdn.example', 'asia', 10],
      ['https://us1.cdn.example', 'us', 900],
      ['https://us2.cdn.example', 'us', 100],
      ['https://eu.cdn.example', 'eu', 500]
    ]
    for (const [url, region, bytesPerSec] of edges) {
      const edge = await trackers.connect(tracker)
      edge.send({ action: 'p2pcdn:edge-register', v: 1, token: 'secret', url, region, capacity: 1000 })
      await edge.next(msg => msg.action === 'p2pcdn:edge-registered')
      edge.send({ action: 'p2pcdn:edge-load', v: 1, connections: 1, bytesPerSec, hitRatio: 0.5 })
      edge.send({ action: 'p2pcdn:edges', v: 1 })
      await edge.next(msg => msg.action === 'p2pcdn:edges')
    }
    const list = ((await getJson(`${tracker.httpUrl}/edges?region=eu`)).body as { edges: Json[] }).edges
    expect(list.map(e => e.url)).toEqual([
      'https://eu.cdn.example',
      'https://us2.cdn.example',
      'https://us1.cdn.example',
      'https://asia.cdn.example'
    ])
  })
})
