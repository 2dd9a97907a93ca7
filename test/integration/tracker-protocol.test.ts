/**
 * The rest of the WebTorrent tracker protocol and the per-socket limits: peer_id ownership,
 * numwant, min interval and warning message, p2p-media-loader ids, scrape of several
 * swarms, rate limit, and the swarm / socket / address caps.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  binaryId,
  connectRaw,
  fakeSdp,
  isAnnounceReply,
  isFailure,
  isOffer,
  isAnswer
} from '../helpers/tracker-client.js'
import { join, useTrackers } from '../helpers/tracker-harness.js'
import { expectNothing, throttledBarrier } from '../helpers/barrier.js'

const trackers = useTrackers()

const offersOf = (n: number): Array<{ offer: { type: string; sdp: string }; offer_id: string }> =>
  Array.from({ length: n }, (_, i) => ({ offer: fakeSdp('offer', `o${i}`), offer_id: binaryId() }))

describe('peer_id ownership', () => {
  it('refuses a peer_id another socket holds in that swarm, and leaves the owner alone', async () => {
    const tracker = await trackers.start()
    const [owner, thief, other] = [
      await trackers.connect(tracker),
      await trackers.connect(tracker),
      await trackers.connect(tracker)
    ]
    const infoHash = binaryId()
    const peerId = binaryId()
    await join(owner, infoHash, peerId)

    thief.send({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'started' })
    expect(await thief.next(isFailure)).toMatchObject({ code: 'ERR_PROTOCOL', action: 'announce', info_hash: infoHash })
    // Nor can it make the owner leave.
    thief.send({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'stopped' })
    await thief.next(isFailure)

    // Offers still reach the owner, and the thief's socket stays usable.
    other.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: binaryId(),
      event: 'started',
      numwant: 1,
      offers: offersOf(1)
    })
    expect(await owner.next(isOffer)).toMatchObject({ info_hash: infoHash })
    expect(await join(thief, infoHash, binaryId())).toMatchObject({ incomplete: 3 })
  })

  it('lets the same peer_id join once its first socket has gone', async () => {
    const tracker = await trackers.start()
    const first = await connectRaw(tracker.url)
    const infoHash = binaryId()
    const peerId = binaryId()
    await join(first, infoHash, peerId)
    await first.close()
    const second = await trackers.connect(tracker)
    expect(await join(second, infoHash, peerId)).toMatchObject({ incomplete: 1 })
  })
})

describe('announce fields', () => {
  it('forwards no more offers than numwant, and says so when offers exceed the cap', async () => {
    const tracker = await trackers.start({ maxOffersPerAnnounce: 2 })
    const peers = [await trackers.connect(tracker), await trackers.connect(tracker), await trackers.connect(tracker)]
    const infoHash = binaryId()
    for (const p of peers) await join(p, infoHash, binaryId())
    const a = await trackers.connect(tracker)

    a.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: binaryId(),
      event: 'started',
      numwant: 1,
      offers: offersOf(2)
    })
    const reply = await a.next(isAnnounceReply)
    expect(reply).toMatchObject({ interval: 120, 'min interval': 30 })
    expect(reply['warning message']).toBeUndefined()
    const got = await Promise.all(
      peers.map(
        async p =>
          await p.next(isOffer, 300).then(
            () => 1,
            () => 0
          )
      )
    )
    expect(got.reduce((x, y) => x + y, 0)).toBe(1)

    a.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: binaryId(),
      event: 'started',
      numwant: 5,
      offers: offersOf(5)
    })
    expect((await a.next(isAnnounceReply))['warning message']).toMatch(/only 2 of 5 offers/)
  })

  it('treats a missing left as incomplete, left 0 and completed as complete, and update from a new peer as a start', async () => {
    const tracker = await trackers.start()
    const a = await trackers.connect(tracker)
    const infoHash = binaryId()
    a.send({ action: 'announce', info_hash: infoHash, peer_id: binaryId() })
    expect(await a.next(isAnnounceReply)).toMatchObject({ complete: 0, incomplete: 1 })
    a.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: binaryId(),
      event: 'update',
      left: 0,
      uploaded: 10,
      downloaded: 20
    })
    expect(await a.next(isAnnounceReply)).toMatchObject({ complete: 1, incomplete: 1 })
  })

  it('scrapes several info_hashes at once, unknown ones as zero', async () => {
    const tracker = await trackers.start()
    const a = await trackers.connect(tracker)
    const [h1, h2, unknown] = [binaryId(), binaryId(), binaryId()]
    await join(a, h1, binaryId(), { left: 0 })
    await join(a, h2, binaryId())
    a.send({ action: 'scrape', info_hash: [h1, h2, unknown] })
    const reply = await a.next(msg => msg.action === 'scrape')
    expect(reply.files).toEqual({
      [h1]: { complete: 1, incomplete: 0, downloaded: 1 },
      [h2]: { complete: 0, incomplete: 1, downloaded: 0 },
      [unknown]: { complete: 0, incomplete: 0, downloaded: 0 }
    })
  })
})

describe('p2p-media-loader ids', () => {
  // p2p-media-loader-core utils/peer.ts: the swarm id is base64 of 15 bytes of SHA-1
  // (20 ASCII chars), and the peer id is "-PM" + version + "-" + random alphanumerics.
  const streamHash = (streamId: string): string =>
    createHash('sha1').update(streamId).digest().subarray(0, 15).toString('base64')
  const pmPeerId = (): string =>
    `-PM0102-${Array.from({ length: 12 }, () => 'ABCxyz0189'[Math.floor(Math.random() * 10)]).join('')}`

  it('matches peers and relays offer and answer with ASCII ids', async () => {
    const tracker = await trackers.start()
    const [a, b] = [await trackers.connect(tracker), await trackers.connect(tracker)]
    const infoHash = streamHash('https://example.com/live/master.m3u8-v1-0')
    expect(infoHash).toHaveLength(20)
    const [peerA, peerB] = [pmPeerId(), pmPeerId()]
    await join(b, infoHash, peerB)
    const offer = offersOf(1)[0]!
    a.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, event: 'started', numwant: 1, offers: [offer] })
    expect(await b.next(isOffer)).toMatchObject({ peer_id: peerA, offer_id: offer.offer_id, info_hash: infoHash })
    b.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: peerB,
      to_peer_id: peerA,
      offer_id: offer.offer_id,
      answer: fakeSdp('answer', 'b')
    })
    expect(await a.next(isAnswer)).toMatchObject({
      peer_id: peerB,
      offer_id: offer.offer_id,
      answer: { type: 'answer' }
    })
  })
})

describe('limits', () => {
  it('rate-limits a socket: a burst, a burst with warnings, one failure reply in shape, then silence, and other sockets unaffected', async () => {
    const tracker = await trackers.start({ messagesPerSecond: 1, messageBurst: 3 })
    const [flood, calm, partner] = [
      await trackers.connect(tracker),
      await trackers.connect(tracker),
      await trackers.connect(tracker)
    ]
    // Takes the first token of flood's burst of 3.
    const floodBarrier = await throttledBarrier(flood, partner)
    const infoHash = binaryId()
    const peerId = binaryId()
    for (let i = 0; i < 20; i++)
      flood.send({ action: 'announce', info_hash: infoHash, peer_id: peerId, event: 'update' })
    for (let i = 0; i < 2; i++) expect(await flood.next(isAnnounceReply)).not.toHaveProperty('warning message')
    for (let i = 0; i < 3; i++) expect(await flood.next(isAnnounceReply)).toHaveProperty('warning message')
    // action and info_hash, so a bittorrent-tracker client takes it as a warning, not a broken tracker.
    expect(await flood.next(isFailure)).toMatchObject({ code: 'ERR_PROTOCOL', action: 'announce', info_hash: infoHash })
    // Silence for the other 14: all 20 were handled and their replies, had there been any, arrived.
    await floodBarrier()
    expect(flood.inbox).toEqual([])
    expect(await join(calm, infoHash, binaryId())).toMatchObject({ incomplete: 2 })
    const metrics = await (await fetch(`${tracker.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^p2pcdn_tracker_rejects_total\{reason="rate-limited"\} 1[0-9]/m)
  })

  it('caps peers per swarm without evicting the ones already in', async () => {
    const tracker = await trackers.start({ maxPeersPerSwarm: 2 })
    const [a, b, c] = [
      await trackers.connect(tracker),
      await trackers.connect(tracker),
      await trackers.connect(tracker)
    ]
    const infoHash = binaryId()
    const [peerA, peerB] = [binaryId(), binaryId()]
    await join(a, infoHash, peerA)
    await join(b, infoHash, peerB)
    c.send({ action: 'announce', info_hash: infoHash, peer_id: binaryId(), event: 'started' })
    expect(await c.next(isFailure)).toMatchObject({ code: 'ERR_PROTOCOL', info_hash: infoHash })
    // The two live peers are still there and still refresh fine.
    expect(await join(a, infoHash, peerA)).toMatchObject({ incomplete: 2 })
  })

  it('caps swarms per socket', async () => {
    const tracker = await trackers.start({ maxSwarmsPerSocket: 2 })
    const a = await trackers.connect(tracker)
    await join(a, binaryId(), binaryId())
    await join(a, binaryId(), binaryId())
    a.send({ action: 'announce', info_hash: binaryId(), peer_id: binaryId(), event: 'started' })
    expect(await a.next(isFailure)).toMatchObject({ code: 'ERR_PROTOCOL' })
  })

  it('closes connections beyond the per-address cap with 1008', async () => {
    const tracker = await trackers.start({ maxConnectionsPerIp: 2 })
    await trackers.connect(tracker)
    await trackers.connect(tracker)
    const third = await trackers.connect(tracker)
    expect(await third.closed).toBe(1008)
    const stats = (await (await fetch(`${tracker.httpUrl}/stats`)).json()) as { connections: number }
    expect(stats.connections).toBe(2)
  })

  it('drops offers when the swarm has nobody else, and answers for vanished peers, quietly', async () => {
    const tracker = await trackers.start()
    const [a, b] = [await trackers.connect(tracker), await trackers.connect(tracker)]
    const infoHash = binaryId()
    a.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: binaryId(),
      event: 'started',
      numwant: 3,
      offers: offersOf(3)
    })
    expect(await a.next(isAnnounceReply)).toMatchObject({ incomplete: 1 })
    b.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: binaryId(),
      to_peer_id: binaryId(),
      offer_id: binaryId(),
      answer: fakeSdp('answer', 'x')
    })
    await expectNothing(b)
    await expectNothing(a, isFailure, [b])
  })
})
