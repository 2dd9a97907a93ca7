/** Edge registration (shared token, edges file, challenge), load heartbeats and the edge list, over WebSocket and HTTP. */
import { describe, expect, it, vi } from 'vitest'
import { createEdge } from '../../edge/src/index.js'
import type { Tracker, TrackerInit } from '../../tracker/src/index.js'
import { startOrigin } from '../helpers/origin.js'
import { binaryId, getJson, isAnnounceReply, isFailure } from '../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../helpers/tracker-client.js'
import { useTrackers } from '../helpers/tracker-harness.js'
import { barrier } from '../helpers/barrier.js'

const TOKEN = 'edge-secret'
const trackers = useTrackers()
const connect = trackers.connect
const startTracker = async (init: TrackerInit = {}): Promise<Tracker> =>
  await trackers.start({ edgeToken: TOKEN, ...init })

const isRegistered = (msg: Json): boolean => msg.action === 'p2pcdn:edge-registered'
const isEdges = (msg: Json): boolean => msg.action === 'p2pcdn:edges'

interface EdgeSpec {
  url: string
  region: string
  capacity?: number
}

async function registerEdge(tracker: Tracker, spec: EdgeSpec, load?: Json): Promise<RawTrackerClient> {
  const edge = await connect(tracker)
  edge.send({ action: 'p2pcdn:edge-register', v: 1, token: TOKEN, capacity: 0, ...spec })
  await edge.next(isRegistered)
  if (load !== undefined) {
    edge.send({ action: 'p2pcdn:edge-load', v: 1, connections: 0, bytesPerSec: 0, hitRatio: 0, ...load })
    // edge-load has no reply; a round trip through the same socket orders it before the next read.
    edge.send({ action: 'p2pcdn:edges', v: 1 })
    await edge.next(isEdges)
  }
  return edge
}

async function listEdges(client: RawTrackerClient, region?: string): Promise<Json[]> {
  client.send(region === undefined ? { action: 'p2pcdn:edges', v: 1 } : { action: 'p2pcdn:edges', v: 1, region })
  const reply = await client.next(isEdges)
  expect(reply.v).toBe(1)
  return reply.edges as Json[]
}

describe('edge registration', () => {
  it('is refused with ERR_PROTOCOL when no token is configured', async () => {
    const tracker = await startTracker({ edgeToken: undefined })
    const edge = await connect(tracker)
    edge.send({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: 'anything',
      url: 'https://eu1.example',
      region: 'eu',
      capacity: 0
    })
    const failure = await edge.next(isFailure)
    expect(failure).toMatchObject({ code: 'ERR_PROTOCOL', action: 'p2pcdn:edge-register' })
    expect(failure['failure reason']).toMatch(/no edge token/)
    expect(await listEdges(edge)).toEqual([])
  })

  it('is refused with ERR_PROTOCOL for a wrong token, and the socket stays open', async () => {
    const tracker = await startTracker()
    const edge = await connect(tracker)
    for (const token of ['wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      edge.send({ action: 'p2pcdn:edge-register', v: 1, token, url: 'https://eu1.example', region: 'eu', capacity: 0 })
      expect(await edge.next(isFailure)).toMatchObject({ code: 'ERR_PROTOCOL' })
    }
    expect(await listEdges(edge)).toEqual([])
    expect(edge.ws.readyState).toBe(edge.ws.OPEN)
  })

  it('accepts the right token and replies with the heartbeat interval', async () => {
    const tracker = await startTracker({ edgeHeartbeatMs: 5000 })
    const edge = await connect(tracker)
    edge.send({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: TOKEN,
      url: 'https://eu1.example/',
      region: 'eu',
      capacity: 1000
    })
    expect(await edge.next(isRegistered)).toEqual({ action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 5000 })
    expect(await listEdges(edge)).toEqual([
      { url: 'https://eu1.example', region: 'eu', capacity: 1000, connections: 0, bytesPerSec: 0, hitRatio: 0 }
    ])
  })

  it('refuses edge-load from a socket that did not register', async () => {
    const tracker = await startTracker()
    const stranger = await connect(tracker)
    stranger.send({ action: 'p2pcdn:edge-load', v: 1, connections: 1, bytesPerSec: 1, hitRatio: 0.5 })
    expect(await stranger.next(isFailure)).toMatchObject({
      code: 'ERR_PROTOCOL',
      reason: 'edge-not-registered',
      action: 'p2pcdn:edge-load'
    })
  })
})

describe('edge list', () => {
  it('lists the requested region first, then the least loaded, over WebSocket and HTTP', async () => {
    const tracker = await startTracker()
    await registerEdge(
      tracker,
      { url: 'https://us-busy.example', region: 'us', capacity: 1000 },
      { bytesPerSec: 900, connections: 9 }
    )
    await registerEdge(
      tracker,
      { url: 'https://eu-busy.example', region: 'eu', capacity: 1000 },
      { bytesPerSec: 800, connections: 8 }
    )
    await registerEdge(
      tracker,
      { url: 'https://us-idle.example', region: 'us', capacity: 1000 },
      { bytesPerSec: 100, connections: 1 }
    )
    await registerEdge(
      tracker,
      { url: 'https://eu-idle.example', region: 'eu', capacity: 1000 },
      { bytesPerSec: 200, connections: 2, hitRatio: 0.9 }
    )
    const client = await connect(tracker)

    const eu = await listEdges(client, 'eu')
    expect(eu.map(e => e.url)).toEqual([
      'https://eu-idle.example',
      'https://eu-busy.example',
      'https://us-idle.example',
      'https://us-busy.example'
    ])
    expect(eu[0]).toEqual({
      url: 'https://eu-idle.example',
      region: 'eu',
      capacity: 1000,
      connections: 2,
      bytesPerSec: 200,
      hitRatio: 0.9
    })

    const us = await getJson(`${tracker.httpUrl}/edges?region=us`)
    expect(us.status).toBe(200)
    expect(us.body).toMatchObject({ action: 'p2pcdn:edges', v: 1 })
    expect((us.body as { edges: Json[] }).edges.map(e => e.url)).toEqual([
      'https://us-idle.example',
      'https://us-busy.example',
      'https://eu-idle.example',
      'https://eu-busy.example'
    ])

    // No region: by load alone.
    const any = await getJson(`${tracker.httpUrl}/edges`)
    expect((any.body as { edges: Json[] }).edges.map(e => e.url)[0]).toBe('https://us-idle.example')
    expect((await getJson(`${tracker.httpUrl}/stats`)).body).toMatchObject({ edges: 4 })
  })

  it('defaults the region of p2pcdn:edges to the one the socket announced with', async () => {
    const tracker = await startTracker()
    await registerEdge(tracker, { url: 'https://us1.example', region: 'us' })
    await registerEdge(tracker, { url: 'https://eu1.example', region: 'eu' })
    const client = await connect(tracker)
    client.send({ action: 'announce', info_hash: binaryId(), peer_id: binaryId(), region: 'eu' })
    await client.next(isAnnounceReply)

    expect((await listEdges(client)).map(e => e.url)).toEqual(['https://eu1.example', 'https://us1.example'])
  })

  it('puts edges that report no capacity after those that do', async () => {
    const tracker = await startTracker()
    await registerEdge(tracker, { url: 'https://unknown.example', region: 'eu', capacity: 0 }, { connections: 0 })
    await registerEdge(tracker, { url: 'https://known.example', region: 'eu', capacity: 100 }, { bytesPerSec: 99 })
    const client = await connect(tracker)
    expect((await listEdges(client, 'eu')).map(e => e.url)).toEqual([
      'https://known.example',
      'https://unknown.example'
    ])
  })

  it('removes an edge when its socket closes', async () => {
    const tracker = await startTracker()
    const edge = await registerEdge(tracker, { url: 'https://eu1.example', region: 'eu' })
    const client = await connect(tracker)
    expect(await listEdges(client)).toHaveLength(1)

    await edge.close()
    // The tracker sees the close a moment later; ask until it has (bounded).
    for (let i = 0; i < 100 && (await listEdges(client)).length > 0; i++)
      await new Promise(resolve => setTimeout(resolve, 20))
    expect(await listEdges(client)).toEqual([])
    expect((await getJson(`${tracker.httpUrl}/edges`)).body).toMatchObject({ edges: [] })
  })

  it('refuses a second registration of a live URL from another socket, and takes it once the first is gone', async () => {
    const tracker = await startTracker()
    const old = await registerEdge(tracker, { url: 'https://eu1.example', region: 'eu' })
    const other = await connect(tracker)
    other.send({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: TOKEN,
      url: 'https://eu1.example',
      region: 'eu',
      capacity: 5
    })
    const failure = await other.next(isFailure)
    expect(failure).toMatchObject({ code: 'ERR_PROTOCOL', action: 'p2pcdn:edge-register' })
    expect(failure['failure reason']).toMatch(/already registered/)
    const client = await connect(tracker)
    expect(await listEdges(client)).toMatchObject([{ url: 'https://eu1.example', capacity: 0 }])

    // The live edge keeps reporting.
    old.send({ action: 'p2pcdn:edge-load', v: 1, connections: 1, bytesPerSec: 0, hitRatio: 0 })
    // edge-load has no reply; a round trip on the same socket orders it first.
    expect(await listEdges(old)).toMatchObject([{ url: 'https://eu1.example', connections: 1 }])
    // Gone (an edge that restarted closes its socket): the URL is free again.
    await old.close()
    for (let i = 0; i < 100 && (await listEdges(client)).length > 0; i++)
      await new Promise(resolve => setTimeout(resolve, 20))
    other.send({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: TOKEN,
      url: 'https://eu1.example',
      region: 'eu',
      capacity: 5
    })
    await other.next(isRegistered)
    expect(await listEdges(client)).toMatchObject([{ url: 'https://eu1.example', capacity: 5 }])
  })

  it('drops an edge that misses three heartbeats, and keeps one that reports', async () => {
    // The tracker's clock is `Date.now`, read when it is created: faked from before then, it
    // moves only when the test moves it. Sweeps are not needed: the list leaves out the silent.
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const heartbeatMs = 200
      const tracker = await startTracker({ edgeHeartbeatMs: heartbeatMs })
      const quiet = await registerEdge(tracker, { url: 'https://quiet.example', region: 'eu' })
      const chatty = await registerEdge(tracker, { url: 'https://chatty.example', region: 'eu' })
      const client = await connect(tracker)
      expect(await listEdges(client)).toHaveLength(2)
      // Chatty reports every half heartbeat, each report handled (a barrier) before the clock moves on.
      const step = async (ms: number): Promise<void> => {
        vi.advanceTimersByTime(ms)
        chatty.send({ action: 'p2pcdn:edge-load', v: 1, connections: 1, bytesPerSec: 10, hitRatio: 0.5 })
        await barrier(chatty)
      }
      for (let t = 0; t < 3 * heartbeatMs; t += heartbeatMs / 2) await step(heartbeatMs / 2)
      // Exactly three heartbeats of silence: still listed.
      expect((await listEdges(client)).map(e => e.url).sort()).toEqual([
        'https://chatty.example',
        'https://quiet.example'
      ])
      await step(1)
      expect(await listEdges(client)).toMatchObject([
        { url: 'https://chatty.example', connections: 1, bytesPerSec: 10, hitRatio: 0.5 }
      ])
      // Dropped means unregistered: the quiet edge must register again.
      quiet.send({ action: 'p2pcdn:edge-load', v: 1, connections: 0, bytesPerSec: 0, hitRatio: 0 })
      expect(await quiet.next(isFailure)).toMatchObject({ code: 'ERR_PROTOCOL' })
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('edges file and shared token together', () => {
  const file = [{ id: 'eu1', urls: ['https://eu1.example'], secret: 'eu1-secret-0123456789' }]

  it('with allowSharedEdgeToken, takes both, but a token edge cannot claim a URL of the file', async () => {
    const tracker = await startTracker({ edges: file, allowSharedEdgeToken: true, edgeChallenge: false })
    const token = await connect(tracker)
    token.send({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: TOKEN,
      url: 'https://eu1.example/path',
      region: 'eu',
      capacity: 0
    })
    expect((await token.next(isFailure))['failure reason']).toMatch(/belongs to edge "eu1"/)
    await registerEdge(tracker, { url: 'https://other.example', region: 'eu' })
    const own = await connect(tracker)
    own.send({
      action: 'p2pcdn:edge-register',
      v: 1,
      id: 'eu1',
      token: 'eu1-secret-0123456789',
      url: 'https://EU1.example/',
      region: 'eu',
      capacity: 0
    })
    await own.next(isRegistered)
    expect((await listEdges(own)).map(e => e.url).sort()).toEqual(['https://eu1.example', 'https://other.example'])
  })

  it('refuses an id when the tracker has no edges file', async () => {
    const tracker = await startTracker()
    const edge = await connect(tracker)
    edge.send({
      action: 'p2pcdn:edge-register',
      v: 1,
      id: 'eu1',
      token: TOKEN,
      url: 'https://eu1.example',
      region: 'eu',
      capacity: 0
    })
    expect((await edge.next(isFailure))['failure reason']).toMatch(/no edges file/)
    expect(await listEdges(edge)).toEqual([])
  })

  it('with edgeChallenge on for the shared token, lists a real edge and refuses a dead URL', async () => {
    const origin = await startOrigin({})
    const tracker = await startTracker({ edgeChallenge: true, edgeChallengeTimeoutMs: 1000 })
    const real = createEdge({ origin: origin.url, port: 0, region: 'eu', tracker: tracker.url, edgeToken: TOKEN })
    try {
      await real.start()
      const client = await connect(tracker)
      for (let i = 0; i < 200 && (await listEdges(client)).length === 0; i++)
        await new Promise(resolve => setTimeout(resolve, 25))
      expect((await listEdges(client)).map(e => e.url)).toEqual([real.url])
      // Port 1 on loopback: nothing listens there.
      client.send({
        action: 'p2pcdn:edge-register',
        v: 1,
        token: TOKEN,
        url: 'http://127.0.0.1:1',
        region: 'eu',
        capacity: 0
      })
      expect((await client.next(isFailure))['failure reason']).toMatch(/challenge failed/)
      expect((await listEdges(client)).map(e => e.url)).toEqual([real.url])
    } finally {
      await real.stop()
      await origin.close()
    }
  })
})
