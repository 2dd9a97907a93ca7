/**
 * The tracker over real sockets: raw `ws` clients speaking the WebTorrent WebSocket
 * tracker protocol against a tracker on port 0.
 */
import { describe, expect, it } from 'vitest'
import { MAX_MESSAGE_BYTES } from '../../protocol/src/index.js'
import { createTracker } from '../../tracker/src/index.js'
import { binaryId, fakeSdp, getJson, isAnnounceReply, isAnswer, isFailure, isOffer } from '../helpers/tracker-client.js'
import type { Json } from '../helpers/tracker-client.js'
import { join, useTrackers } from '../helpers/tracker-harness.js'
import { barrier, expectNothing } from '../helpers/barrier.js'

const { start: startTracker, connect } = useTrackers()

describe('announce', () => {
  it('replies with interval, info_hash and the swarm counts', async () => {
    const tracker = await startTracker({ announceIntervalS: 60 })
    const a = await connect(tracker)
    const infoHash = binaryId()

    const reply = await join(a, infoHash, binaryId(), { left: 1000, uploaded: 0, downloaded: 0 })

    expect(reply).toEqual({
      action: 'announce',
      info_hash: infoHash,
      interval: 60,
      'min interval': 30,
      complete: 0,
      incomplete: 1
    })
  })

  it('counts completed and left: 0 peers as complete, others as incomplete', async () => {
    const tracker = await startTracker()
    const [a, b, c] = [await connect(tracker), await connect(tracker), await connect(tracker)]
    const infoHash = binaryId()
    const peerC = binaryId()

    await join(a, infoHash, binaryId(), { left: 0 })
    await join(b, infoHash, binaryId(), { left: 5 })
    expect(await join(c, infoHash, peerC, { left: 5 })).toMatchObject({ complete: 1, incomplete: 2 })

    c.send({ action: 'announce', info_hash: infoHash, peer_id: peerC, event: 'completed', left: 0 })
    expect(await c.next(isAnnounceReply)).toMatchObject({ complete: 2, incomplete: 1 })
  })

  it('forwards each offer to one distinct other peer, and relays the answer back', async () => {
    const tracker = await startTracker()
    const [a, b, c] = [await connect(tracker), await connect(tracker), await connect(tracker)]
    const infoHash = binaryId()
    const [peerA, peerB, peerC] = [binaryId(), binaryId(), binaryId()]
    await join(b, infoHash, peerB)
    await join(c, infoHash, peerC)
    const offers = [
      { offer: fakeSdp('offer', 'one'), offer_id: binaryId() },
      { offer: fakeSdp('offer', 'two'), offer_id: binaryId() }
    ]

    a.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, event: 'started', numwant: 2, offers })
    expect(await a.next(isAnnounceReply)).toMatchObject({ complete: 0, incomplete: 3 })
    const [atB, atC] = await Promise.all([b.next(isOffer), c.next(isOffer)])

    for (const got of [atB, atC]) {
      expect(got).toMatchObject({ action: 'announce', peer_id: peerA, info_hash: infoHash, region: 'default' })
    }
    const ids = [atB.offer_id, atC.offer_id]
    expect(new Set(ids).size).toBe(2)
    expect(ids.sort()).toEqual(offers.map(o => o.offer_id).sort())
    const offerAtB = offers.find(o => o.offer_id === atB.offer_id)!
    expect(atB.offer).toEqual(offerAtB.offer)
    await expectNothing(a, isOffer)

    b.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: peerB,
      to_peer_id: peerA,
      offer_id: atB.offer_id,
      answer: fakeSdp('answer', 'b')
    })
    const answer = await a.next(isAnswer)
    expect(answer).toEqual({
      action: 'announce',
      answer: fakeSdp('answer', 'b'),
      offer_id: atB.offer_id,
      peer_id: peerB,
      info_hash: infoHash,
      region: 'default'
    })
    // bittorrent-tracker sends the answerer no reply.
    await expectNothing(b)
  })

  it('never sends a peer its own offer, and ignores offers beyond the peers available', async () => {
    const tracker = await startTracker()
    const [a, b] = [await connect(tracker), await connect(tracker)]
    const infoHash = binaryId()
    const peerA = binaryId()
    await join(b, infoHash, binaryId())
    const offers = [1, 2, 3].map(n => ({ offer: fakeSdp('offer', String(n)), offer_id: binaryId() }))

    a.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, numwant: 3, offers })
    await a.next(isAnnounceReply)

    await b.next(isOffer)
    await expectNothing(b, isOffer, [a])
    await expectNothing(a, isOffer)
  })

  it('forwards at most maxOffersPerAnnounce offers', async () => {
    const tracker = await startTracker({ maxOffersPerAnnounce: 1 })
    const [a, b, c] = [await connect(tracker), await connect(tracker), await connect(tracker)]
    const infoHash = binaryId()
    await join(b, infoHash, binaryId())
    await join(c, infoHash, binaryId())
    const offers = [1, 2].map(n => ({ offer: fakeSdp('offer', String(n)), offer_id: binaryId() }))

    a.send({ action: 'announce', info_hash: infoHash, peer_id: binaryId(), numwant: 2, offers })
    // a's announce was handled (its reply came), so both offers it could cause were written.
    await a.next(isAnnounceReply)
    await barrier(b)
    await barrier(c)

    expect(b.inbox.filter(isOffer).length + c.inbox.filter(isOffer).length).toBe(1)
  })

  it('sends offers to peers of the same region first, then fills from other regions', async () => {
    const tracker = await startTracker()
    const infoHash = binaryId()
    const us = [await connect(tracker), await connect(tracker)]
    const eu = await connect(tracker)
    for (const client of us) await join(client, infoHash, binaryId(), { region: 'us' })
    await join(eu, infoHash, binaryId(), { region: 'eu' })
    const a = await connect(tracker)
    const peerA = binaryId()
    await join(a, infoHash, peerA, { region: 'eu' })

    // Random choice within a region: repeat so a lucky pick cannot pass the test.
    for (let round = 0; round < 5; round++) {
      a.send({
        action: 'announce',
        info_hash: infoHash,
        peer_id: peerA,
        offers: [{ offer: fakeSdp('offer', 'x'), offer_id: binaryId() }]
      })
      await a.next(isAnnounceReply)
      expect(await eu.next(isOffer)).toMatchObject({ peer_id: peerA, region: 'eu' })
    }
    await expectNothing(us[0]!, isOffer)
    await expectNothing(us[1]!, isOffer)

    // Two offers: one to the eu peer, one to some us peer.
    const offers = [1, 2].map(n => ({ offer: fakeSdp('offer', String(n)), offer_id: binaryId() }))
    a.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, offers })
    await eu.next(isOffer)
    for (const client of [a, ...us]) await barrier(client)
    expect(us[0]!.inbox.filter(isOffer).length + us[1]!.inbox.filter(isOffer).length).toBe(1)
  })

  it('removes a peer on event stopped, and deletes the emptied swarm', async () => {
    const tracker = await startTracker()
    const [a, b] = [await connect(tracker), await connect(tracker)]
    const infoHash = binaryId()
    const peerA = binaryId()
    const peerB = binaryId()
    await join(a, infoHash, peerA, { left: 0 })
    expect(await join(b, infoHash, peerB, { left: 10 })).toMatchObject({ complete: 1, incomplete: 1 })

    b.send({ action: 'announce', info_hash: infoHash, peer_id: peerB, event: 'stopped' })
    expect(await b.next(isAnnounceReply)).toMatchObject({ complete: 1, incomplete: 0 })

    // A stopped peer gets no offers.
    a.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: peerA,
      offers: [{ offer: fakeSdp('offer', 'x'), offer_id: binaryId() }]
    })
    expect(await a.next(isAnnounceReply)).toMatchObject({ complete: 1, incomplete: 0 })
    await expectNothing(b, isOffer)

    a.send({ action: 'announce', info_hash: infoHash, peer_id: peerA, event: 'stopped' })
    expect(await a.next(isAnnounceReply)).toMatchObject({ complete: 0, incomplete: 0 })
    expect((await getJson(`${tracker.httpUrl}/stats`)).body).toMatchObject({ peers: 0, swarms: 0 })
  })

  it('removes every peer of a socket when it closes', async () => {
    const tracker = await startTracker()
    const [a, b] = [await connect(tracker), await connect(tracker)]
    const [hash1, hash2] = [binaryId(), binaryId()]
    const peerA = binaryId()
    await join(a, hash1, peerA)
    await join(b, hash1, binaryId())
    await join(b, hash2, binaryId())
    // One socket, two peer ids: bittorrent-tracker clients in one page share a socket.
    expect(await join(b, hash1, binaryId())).toMatchObject({ incomplete: 3 })

    await b.close()
    await eventually(async () => {
      expect((await getJson(`${tracker.httpUrl}/stats`)).body).toMatchObject({ peers: 1, swarms: 1 })
    })
    expect(await join(a, hash1, peerA)).toMatchObject({ complete: 0, incomplete: 1 })
  })

  it('terminates a socket that stops answering pings, and its peers leave', async () => {
    const tracker = await startTracker({ pingIntervalMs: 50 })
    const a = await connect(tracker)
    const silent = await connect(tracker, { autoPong: false })
    const infoHash = binaryId()
    await join(silent, infoHash, binaryId())
    expect(await join(a, infoHash, binaryId())).toMatchObject({ incomplete: 2 })

    expect(await silent.closed).toBe(1006)
    await eventually(async () => {
      expect((await getJson(`${tracker.httpUrl}/stats`)).body).toMatchObject({ peers: 1 })
    })
    // The answering socket survived several ping rounds.
    expect(a.ws.readyState).toBe(a.ws.OPEN)
  })

  it('drops an answer for an unknown peer quietly', async () => {
    const tracker = await startTracker()
    const a = await connect(tracker)
    const infoHash = binaryId()
    const peerA = binaryId()
    await join(a, infoHash, peerA)

    a.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: peerA,
      to_peer_id: binaryId(),
      offer_id: binaryId(),
      answer: fakeSdp('answer', 'x')
    })
    await expectNothing(a)
    expect(await join(a, infoHash, peerA)).toMatchObject({ incomplete: 1 })
  })
  it('relays no answer from a socket that did not announce with that peer_id, and counts each as not-in-swarm', async () => {
    const tracker = await startTracker()
    const [offerer, member, spoofer] = [await connect(tracker), await connect(tracker), await connect(tracker)]
    const infoHash = binaryId()
    const [peerOfferer, peerMember] = [binaryId(), binaryId()]
    await join(member, infoHash, peerMember)
    offerer.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: peerOfferer,
      event: 'started',
      numwant: 1,
      offers: [{ offer: fakeSdp('offer', 'o'), offer_id: binaryId() }]
    })
    await offerer.next(isAnnounceReply)
    const { offer_id: offerId } = await member.next(isOffer)
    const forged = (peerId: string): Json => ({
      action: 'announce',
      info_hash: infoHash,
      peer_id: peerId,
      to_peer_id: peerOfferer,
      offer_id: offerId,
      answer: fakeSdp('answer', 'forged')
    })

    // Never announced: in the member's name, and in a made-up name of its own.
    spoofer.send(forged(peerMember))
    spoofer.send(forged(binaryId()))
    // Announced in the swarm, but under its own id: still not the member.
    await join(spoofer, infoHash, binaryId())
    spoofer.send(forged(peerMember))
    // The spoofer's frames were handled in order, then whatever they caused reached the offerer.
    await expectNothing(offerer, isAnswer, [spoofer])
    expect(await metric(tracker.httpUrl, 'p2pcdn_tracker_rejects_total{reason="not-in-swarm"}')).toBe(3)
    expect(await metric(tracker.httpUrl, 'p2pcdn_tracker_answers_relayed_total')).toBe(0)

    // The member's own answer still goes through, and is the only one the offerer ever sees.
    member.send({ ...forged(peerMember), answer: fakeSdp('answer', 'real') })
    expect(await offerer.next(isAnswer)).toMatchObject({ peer_id: peerMember, answer: fakeSdp('answer', 'real') })
    await expectNothing(offerer, isAnswer, [spoofer, member])
    expect(await metric(tracker.httpUrl, 'p2pcdn_tracker_answers_relayed_total')).toBe(1)
  })
})

describe('malformed messages', () => {
  it('get a failure reply with a code, and the socket stays usable', async () => {
    const tracker = await startTracker()
    const a = await connect(tracker)
    const infoHash = binaryId()

    a.send('this is not json')
    expect(await a.next(isFailure)).toMatchObject({ code: 'ERR_INVALID_MESSAGE' })

    a.send({ action: 'announce', info_hash: 'too short', peer_id: binaryId() })
    expect(await a.next(isFailure)).toMatchObject({
      code: 'ERR_INVALID_MESSAGE',
      reason: 'invalid-message',
      action: 'announce'
    })

    // A failure names the swarm when it can, so a bittorrent-tracker client reads it as its own.
    a.send({ action: 'announce', info_hash: infoHash, peer_id: 42 })
    expect(await a.next(isFailure)).toMatchObject({
      code: 'ERR_INVALID_MESSAGE',
      action: 'announce',
      info_hash: infoHash
    })

    a.send({ action: 'teleport', info_hash: infoHash })
    const unknown = await a.next(isFailure)
    expect(unknown.code).toBe('ERR_INVALID_MESSAGE')
    expect(unknown['failure reason']).toContain('teleport')

    a.send({
      action: 'announce',
      info_hash: infoHash,
      peer_id: binaryId(),
      offers: [{ offer: { type: 'offer', sdp: 1 }, offer_id: binaryId() }]
    })
    expect(await a.next(isFailure)).toMatchObject({ code: 'ERR_INVALID_MESSAGE' })

    expect(a.ws.readyState).toBe(a.ws.OPEN)
    expect(await join(a, infoHash, binaryId())).toMatchObject({ info_hash: infoHash, incomplete: 1 })
  })

  it('closes a socket that sends a frame over MAX_MESSAGE_BYTES (ws maxPayload)', async () => {
    const tracker = await startTracker()
    const a = await connect(tracker)
    a.send('x'.repeat(MAX_MESSAGE_BYTES + 1))
    expect(await a.closed).toBe(1009)
    expect((await getJson(`${tracker.httpUrl}/healthz`)).status).toBe(200)
  })
})

describe('scrape', () => {
  it('answers with complete, incomplete and downloaded per info_hash, as bittorrent-tracker does', async () => {
    const tracker = await startTracker({ announceIntervalS: 90 })
    const [a, b] = [await connect(tracker), await connect(tracker)]
    const [hash1, hash2, unknown] = [binaryId(), binaryId(), binaryId()]
    await join(a, hash1, binaryId(), { left: 0 })
    await join(b, hash1, binaryId(), { left: 3 })
    await join(b, hash2, binaryId(), { left: 3 })

    a.send({ action: 'scrape', info_hash: [hash1, unknown] })
    expect(await a.next(msg => msg.action === 'scrape')).toEqual({
      action: 'scrape',
      files: {
        [hash1]: { complete: 1, incomplete: 1, downloaded: 1 },
        [unknown]: { complete: 0, incomplete: 0, downloaded: 0 }
      },
      flags: { min_request_interval: 90 }
    })

    a.send({ action: 'scrape', info_hash: hash2 })
    expect((await a.next(msg => msg.action === 'scrape')).files).toEqual({
      [hash2]: { complete: 0, incomplete: 1, downloaded: 0 }
    })

    // No info_hash: every swarm.
    a.send({ action: 'scrape' })
    expect(Object.keys((await a.next(msg => msg.action === 'scrape')).files as Json).sort()).toEqual(
      [hash1, hash2].sort()
    )
  })
})

describe('HTTP', () => {
  it('serves /healthz, /stats and 404 for anything else', async () => {
    const tracker = await startTracker()
    const [a, b] = [await connect(tracker), await connect(tracker)]
    const infoHash = binaryId()
    await join(a, infoHash, binaryId(), { region: 'eu' })
    await join(b, infoHash, binaryId())
    await join(b, binaryId(), binaryId(), { region: 'us' })

    expect(await getJson(`${tracker.httpUrl}/healthz`)).toEqual({ status: 200, body: { ok: true } })
    const stats = (await getJson(`${tracker.httpUrl}/stats`)).body as Json
    expect(stats).toMatchObject({
      peers: 3,
      swarms: 2,
      peersByRegion: { eu: 1, default: 1, us: 1 },
      edges: 0,
      edgeList: [],
      connections: 2
    })
    // Per swarm, biggest first, with its regions.
    expect(stats.swarmList).toEqual([
      {
        infoHash: Buffer.from(infoHash, 'latin1').toString('hex'),
        peers: 2,
        complete: 0,
        incomplete: 2,
        peersByRegion: { eu: 1, default: 1 }
      },
      expect.objectContaining({ peers: 1, peersByRegion: { us: 1 } })
    ])
    expect((await getJson(`${tracker.httpUrl}/nope`)).status).toBe(404)
    expect((await getJson(`${tracker.httpUrl}/`)).status).toBe(404)
    expect((await fetch(`${tracker.httpUrl}/stats`, { method: 'POST' })).status).toBe(405)
  })
})

describe('lifecycle', () => {
  it('stop() closes every socket with 1001, and is idempotent', async () => {
    const tracker = await startTracker()
    const a = await connect(tracker)
    await join(a, binaryId(), binaryId())

    await Promise.all([tracker.stop(), tracker.stop()])
    expect(await a.closed).toBe(1001)
    await tracker.stop()
    await expect(fetch(`${tracker.httpUrl}/healthz`)).rejects.toThrow()
  })

  it('reports the bound port and URLs', async () => {
    const tracker = await startTracker({ host: '127.0.0.1' })
    expect(tracker.port).toBeGreaterThan(0)
    expect(tracker.url).toBe(`ws://127.0.0.1:${tracker.port}`)
    expect(tracker.httpUrl).toBe(`http://127.0.0.1:${tracker.port}`)
  })

  it('rejects start() when the port is taken', async () => {
    const first = await startTracker()
    const second = createTracker({ port: first.port })
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE' })
    await second.stop()
  })
})

async function eventually(check: () => Promise<void>, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await check()
      return
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 25))
    }
  }
}

/** The value of one Prometheus series at `/metrics`, e.g. `p2pcdn_tracker_rejects_total{reason="not-in-swarm"}`; 0 when absent. */
async function metric(httpUrl: string, series: string): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text()
  const line = text.split('\n').find(l => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}
