/**
 * The tracker's answer relay, cluster-mode announce, edge actions and HTTP routes, driven
 * directly with a fake Cluster (the cluster integration test runs its trackers in child
 * processes, where Stryker sees nothing). Written to kill the mutants Stryker found
 * surviving in tracker/src/handlers (test/MUTATION.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ScrapeMetrics } from '../../../service/src/metrics.js'
import { describe, expect, it } from 'vitest'
import { PROTOCOL_VERSION, binaryStringToHex } from '../../../protocol/src/index.js'
import type { EdgeInfo } from '../../../protocol/src/index.js'
import { sha256 } from '../../../service/src/secret.js'
import { Refusal } from '../../../tracker/src/refusal.js'
import { deliverLocal } from '../../../tracker/src/handlers/announce-cluster.js'
import { handleMessage } from '../../../tracker/src/handlers/handle-message.js'
import { MAX_STATS_SWARMS, handleHttpRequest } from '../../../tracker/src/handlers/http.js'
import { binaryId, createFakeCluster, createHarness, frame, settle } from './support/handler-context.js'
import type { FakeCluster, FakeConnection, Harness } from './support/handler-context.js'

const offer = (i: number): { offer: { type: 'offer'; sdp: string }; offer_id: string } => ({
  offer: { type: 'offer', sdp: `sdp-${i}` },
  offer_id: binaryId()
})

function send(h: Harness, conn: FakeConnection, message: Record<string, unknown>): void {
  handleMessage(h.ctx, conn, frame(message))
}

function answerFrom(infoHash: string, from: string, to: string): Record<string, unknown> {
  return {
    action: 'announce',
    info_hash: infoHash,
    peer_id: from,
    to_peer_id: to,
    offer_id: 'o'.repeat(20),
    answer: { type: 'answer', sdp: 'the-answer' }
  }
}

describe('answers', () => {
  it('relays a member answer to the offerer, with the answerer region, and counts it', () => {
    const h = createHarness()
    const infoHash = binaryId()
    const [a, b] = [h.connect(), h.connect()]
    const [aId, bId] = [binaryId(), binaryId()]
    send(h, a, { action: 'announce', info_hash: infoHash, peer_id: aId, region: 'eu' })
    send(h, b, { action: 'announce', info_hash: infoHash, peer_id: bId })
    send(h, a, answerFrom(infoHash, aId, bId))
    expect(b.texts.at(-1)).toBe(
      `{"action":"announce","answer":{"type":"answer","sdp":"the-answer"},"offer_id":"${'o'.repeat(20)}","peer_id":${JSON.stringify(aId)},"info_hash":${JSON.stringify(infoHash)},"region":"eu"}`
    )
    expect(a.sent).toHaveLength(1)
    expect(h.ctx.metrics.answersRelayed).toBe(1)
    expect(h.ctx.metrics.signalsDropped).toBe(0)
  })

  it('drops answers from non-members and from another socket using a member id', () => {
    const h = createHarness()
    const infoHash = binaryId()
    const [a, b, thief] = [h.connect(), h.connect(), h.connect()]
    const [aId, bId] = [binaryId(), binaryId()]
    send(h, a, { action: 'announce', info_hash: infoHash, peer_id: aId })
    send(h, b, { action: 'announce', info_hash: infoHash, peer_id: bId })
    send(h, thief, answerFrom(infoHash, aId, bId))
    send(h, thief, answerFrom(binaryId(), aId, bId))
    expect(b.sent).toHaveLength(1)
    expect(thief.sent).toEqual([])
    expect(h.ctx.metrics.signalsDropped).toBe(2)
    expect(h.ctx.metrics.rejects.get('not-in-swarm')).toBe(2)
    expect(h.ctx.metrics.answersRelayed).toBe(0)
  })

  it('drops an answer for a peer that is gone, without a cluster', () => {
    const h = createHarness()
    const infoHash = binaryId()
    const a = h.connect()
    const aId = binaryId()
    send(h, a, { action: 'announce', info_hash: infoHash, peer_id: aId })
    send(h, a, answerFrom(infoHash, aId, binaryId()))
    expect(h.ctx.metrics.signalsDropped).toBe(1)
    expect(h.ctx.metrics.rejects.size).toBe(0)
  })

  it('in a cluster, asks where the offerer is: gone, here, or another process', async () => {
    const cluster = createFakeCluster('me')
    const h = createHarness({}, cluster)
    const infoHash = binaryId()
    const a = h.connect()
    const aId = binaryId()
    send(h, a, { action: 'announce', info_hash: infoHash, peer_id: aId })
    await settle()
    const away = binaryId()

    cluster.located = undefined
    send(h, a, answerFrom(infoHash, aId, away))
    await settle()
    expect(h.ctx.metrics.signalsDropped).toBe(1)
    expect(cluster.calls.filter(c => c[0] === 'locate')).toEqual([['locate', infoHash, away]])

    cluster.located = 'other'
    send(h, a, answerFrom(infoHash, aId, away))
    await settle()
    const relays = cluster.calls.filter(c => c[0] === 'relay')
    expect(relays).toHaveLength(1)
    expect(relays[0]!.slice(0, 4)).toEqual(['relay', 'other', infoHash, away])
    expect(relays[0]![4]).toContain('"the-answer"')
    expect(h.ctx.metrics.answersRelayed).toBe(1)

    // "Here" but not found locally any more: dropped by deliverLocal.
    cluster.located = 'me'
    send(h, a, answerFrom(infoHash, aId, away))
    await settle()
    expect(h.ctx.metrics.signalsDropped).toBe(2)
    expect(h.ctx.metrics.answersRelayed).toBe(1)

    cluster.located = Promise.reject(new Error('redis down'))
    cluster.located.catch(() => {})
    send(h, a, answerFrom(infoHash, aId, away))
    await settle()
    expect(h.logs.filter(l => l.level === 'warn')).toEqual([
      {
        level: 'warn',
        event: 'answer-relay-failed',
        fields: { component: 'p2pcdn:tracker:cluster', conn: a.id, error: 'redis down' }
      }
    ])
  })
})

describe('deliverLocal', () => {
  it('delivers to a local peer, grants a free answer for an offer only, and skips non-reading sockets', () => {
    const h = createHarness()
    const infoHash = binaryId()
    const a = h.connect()
    const aId = binaryId()
    send(h, a, { action: 'announce', info_hash: infoHash, peer_id: aId })
    const offerText = '{"action":"announce","offer":{"type":"offer","sdp":"x"}}'
    const answerText = '{"action":"announce","answer":{"type":"answer","sdp":"x"}}'
    expect(deliverLocal(h.ctx, infoHash, aId, answerText)).toBe(true)
    expect(a.answerCredits.any).toBe(false)
    expect(deliverLocal(h.ctx, infoHash, aId, offerText)).toBe(true)
    expect(a.answerCredits.any).toBe(true)
    expect(a.texts.slice(1)).toEqual([answerText, offerText])
    a.backlogged = true
    expect(deliverLocal(h.ctx, infoHash, aId, offerText)).toBe(false)
    // An answer still goes to a socket that reads slowly.
    expect(deliverLocal(h.ctx, infoHash, aId, answerText)).toBe(true)
    expect(h.ctx.metrics.signalsDropped).toBe(1)
    expect(deliverLocal(h.ctx, infoHash, binaryId(), answerText)).toBe(false)
    expect(deliverLocal(h.ctx, binaryId(), aId, answerText)).toBe(false)
    expect(h.ctx.metrics.signalsDropped).toBe(3)
  })
})

describe('announce in a cluster', () => {
  function clusterHarness(): { h: Harness; cluster: FakeCluster } {
    const cluster = createFakeCluster('me')
    return { h: createHarness({ maxOffersPerAnnounce: 5 }, cluster), cluster }
  }

  it('replies with the cluster counts and relays offers to remote peers, delivering local ones', async () => {
    const { h, cluster } = clusterHarness()
    const infoHash = binaryId()
    const local = h.connect()
    const localId = binaryId()
    send(h, local, { action: 'announce', info_hash: infoHash, peer_id: localId })
    await settle()
    const remoteId = binaryId()
    cluster.clusterCounts = { complete: 7, incomplete: 9 }
    cluster.peers = [
      { nodeId: 'me', peerId: localId },
      { nodeId: 'other', peerId: remoteId }
    ]
    // Its network (from GeoIP) goes to the cluster with it, and picks its targets first.
    const sender = h.connect({ asn: 64500 })
    const senderId = binaryId()
    const offers = [offer(0), offer(1), offer(2)]
    send(h, sender, { action: 'announce', info_hash: infoHash, peer_id: senderId, region: 'eu', offers, left: 0 })
    await settle()
    expect(sender.texts[0]).toBe(
      `{"action":"announce","interval":120,"min interval":30,"info_hash":${JSON.stringify(infoHash)},"complete":7,"incomplete":9}`
    )
    expect(cluster.calls).toContainEqual(['peerUpdated', infoHash, senderId, 'eu', true, 64500])
    expect(cluster.calls).toContainEqual(['counts', infoHash])
    expect(cluster.calls).toContainEqual(['choosePeers', infoHash, senderId, 'eu', [], 3, 64500])
    const localOffer = JSON.parse(local.texts.at(-1)!) as Record<string, unknown>
    expect(localOffer).toMatchObject({ offer_id: offers[0]!.offer_id, peer_id: senderId, region: 'eu' })
    expect(local.answerCredits.any).toBe(true)
    const relay = cluster.calls.find(c => c[0] === 'relay')!
    expect(relay.slice(0, 4)).toEqual(['relay', 'other', infoHash, remoteId])
    expect(JSON.parse(relay[4] as string)).toMatchObject({ offer_id: offers[1]!.offer_id })
    expect(h.ctx.metrics.offersRelayed).toBe(2)
  })

  it('sends no offers when there are none, or none are wanted, and tells the cluster a peer left', async () => {
    const { h, cluster } = clusterHarness()
    const infoHash = binaryId()
    const conn = h.connect()
    const id = binaryId()
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id, offers: [offer(0)], numwant: 0 })
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id })
    await settle()
    expect(cluster.calls.filter(c => c[0] === 'choosePeers')).toEqual([])
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id, event: 'stopped', offers: [offer(0)] })
    await settle()
    expect(cluster.calls).toContainEqual(['peerLeft', infoHash, id, 'default'])
    expect(cluster.calls.filter(c => c[0] === 'peerUpdated')).toHaveLength(2)
    expect(cluster.calls.filter(c => c[0] === 'choosePeers')).toEqual([])
    expect(h.ctx.swarms.size).toBe(0)
    expect(conn.sent).toHaveLength(3)
  })

  it('undoes a peer whose id another process holds, and refuses it', async () => {
    const { h, cluster } = clusterHarness()
    cluster.updated = false
    const infoHash = binaryId()
    const conn = h.connect()
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: binaryId() })
    await settle()
    expect(conn.sent).toEqual([
      {
        'failure reason': 'peer_id is already in this swarm on another connection',
        code: 'ERR_PROTOCOL',
        reason: 'peer-id-taken',
        action: 'announce',
        info_hash: infoHash
      }
    ])
    expect(h.ctx.swarms.size).toBe(0)
    expect(conn.swarms.size).toBe(0)
    expect(h.ctx.metrics.rejects.get('peer-id-taken')).toBe(1)
  })

  it('says the cluster is unavailable when Redis fails, and logs it', async () => {
    const { h, cluster } = clusterHarness()
    cluster.clusterCounts = Promise.reject(new Error('no redis'))
    cluster.clusterCounts.catch(() => {})
    const infoHash = binaryId()
    const conn = h.connect()
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: binaryId() })
    await settle()
    expect(conn.sent).toEqual([
      { 'failure reason': 'tracker cluster unavailable', action: 'announce', info_hash: infoHash }
    ])
    expect(h.logs).toContainEqual({
      level: 'warn',
      event: 'announce-failed',
      fields: { component: 'p2pcdn:tracker:cluster', conn: conn.id, error: 'no redis' }
    })
  })
})

const TOKEN = 'shared-edge-token'
const register = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  action: 'p2pcdn:edge-register',
  token: TOKEN,
  url: 'http://edge.test:8081',
  region: 'eu',
  capacity: 50,
  ...fields
})

function edgesFile(): Harness['config']['edges'] {
  return new Map([
    ['eu1', { id: 'eu1', urls: new Set(['https://eu1.cdn.test']), secretHash: sha256('eu1-secret-0123456789') }]
  ])
}

describe('edge registration', () => {
  it('lists a shared-token edge at once without a challenge, and logs it', async () => {
    const h = createHarness({ edgeToken: TOKEN, edgeHeartbeatMs: 4000 })
    const edge = h.connect()
    send(h, edge, register())
    await settle()
    expect(edge.sent).toEqual([{ action: 'p2pcdn:edge-registered', v: PROTOCOL_VERSION, heartbeatMs: 4000 }])
    expect(h.challenger.calls).toEqual([])
    expect(h.ctx.edges.list(undefined, h.clock.now)).toMatchObject([
      { url: 'http://edge.test:8081', region: 'eu', capacity: 50 }
    ])
    expect(h.logs).toContainEqual({
      level: 'info',
      event: 'edge-registered',
      fields: {
        component: 'p2pcdn:tracker:edges',
        conn: edge.id,
        id: undefined,
        url: 'http://edge.test:8081',
        region: 'eu',
        capacity: 50
      }
    })
  })

  it('refuses with a reason for each wrong credential', () => {
    const cases: Array<[Partial<Harness['config']>, Record<string, unknown>, string]> = [
      [{}, {}, 'no edge token is configured on this tracker'],
      [{ edgeToken: TOKEN }, { token: 'wrong-token' }, 'wrong token'],
      [{ edgeToken: TOKEN }, { id: 'eu1' }, 'this tracker has no edges file; register with the shared token and no id'],
      [{ edges: edgesFile() }, {}, 'this tracker lists its edges: register with an edge id and its secret'],
      [
        { edges: edgesFile(), edgeToken: TOKEN },
        {},
        'this tracker lists its edges: register with an edge id and its secret'
      ],
      [{ edges: edgesFile() }, { id: 'nope', token: 'eu1-secret-0123456789' }, 'unknown edge id or wrong secret'],
      [{ edges: edgesFile() }, { id: 'eu1', token: 'not-the-secret' }, 'unknown edge id or wrong secret'],
      [
        { edges: edgesFile() },
        { id: 'eu1', token: 'eu1-secret-0123456789', url: 'https://elsewhere.test' },
        'https://elsewhere.test is not listed for edge "eu1"'
      ],
      [
        { edges: edgesFile() },
        { id: 'eu1', token: 'eu1-secret-0123456789', url: 'https://eu1.cdn.test/path' },
        'https://eu1.cdn.test/path is not listed for edge "eu1"'
      ],
      [
        { edges: edgesFile(), edgeToken: TOKEN, allowSharedEdgeToken: true },
        { url: 'https://eu1.cdn.test' },
        'https://eu1.cdn.test belongs to edge "eu1" of the edges file'
      ]
    ]
    for (const [config, fields, why] of cases) {
      const h = createHarness(config)
      const edge = h.connect()
      send(h, edge, register(fields))
      expect(edge.sent, why).toEqual([
        {
          'failure reason': `edge registration refused: ${why}`,
          code: 'ERR_PROTOCOL',
          reason: 'edge-refused',
          action: 'p2pcdn:edge-register'
        }
      ])
      expect(h.ctx.metrics.rejects.get('edge-refused')).toBe(1)
      expect(h.ctx.edges.size).toBe(0)
    }
  })

  it('lists an edge of the edges file at its origin, and a shared-token one beside it when allowed', async () => {
    const h = createHarness({ edges: edgesFile(), edgeToken: TOKEN, allowSharedEdgeToken: true })
    const edge = h.connect()
    send(h, edge, register({ id: 'eu1', token: 'eu1-secret-0123456789', url: 'https://EU1.cdn.test/' }))
    const shared = h.connect()
    send(h, shared, register({ url: 'http://other.test' }))
    await settle()
    expect(edge.sent[0]).toMatchObject({ action: 'p2pcdn:edge-registered' })
    expect(shared.sent[0]).toMatchObject({ action: 'p2pcdn:edge-registered' })
    expect(
      h.ctx.edges
        .list(undefined, h.clock.now)
        .map(e => e.url)
        .sort()
    ).toEqual(['http://other.test', 'https://eu1.cdn.test'])
  })

  it('challenges the edge when configured: lists it once it passes, releases it when it fails', async () => {
    const h = createHarness({ edgeToken: TOKEN, edgeChallenge: true })
    const edge = h.connect()
    let pass!: () => void
    h.challenger.result = new Promise<void>(resolve => (pass = resolve))
    send(h, edge, register())
    expect(h.challenger.calls).toEqual([['http://edge.test:8081', undefined, sha256(TOKEN)]])
    // A second registration while the first is pending is refused.
    send(h, edge, register())
    expect(edge.sent).toEqual([
      {
        'failure reason': 'edge registration refused: a registration is already in progress on this connection',
        code: 'ERR_PROTOCOL',
        reason: 'edge-refused',
        action: 'p2pcdn:edge-register'
      }
    ])
    expect(h.ctx.edges.list(undefined, h.clock.now)).toEqual([])
    pass()
    await settle()
    expect(edge.sent[1]).toMatchObject({ action: 'p2pcdn:edge-registered' })
    expect(h.ctx.edges.list(undefined, h.clock.now)).toHaveLength(1)

    const failing = h.connect()
    h.challenger.result = Promise.reject(new Refusal('edge-refused', 'edge registration refused: challenge failed'))
    h.challenger.result.catch(() => {})
    send(h, failing, register({ url: 'http://failing.test' }))
    await settle()
    expect(failing.sent).toEqual([
      {
        'failure reason': 'edge registration refused: challenge failed',
        code: 'ERR_PROTOCOL',
        reason: 'edge-refused',
        action: 'p2pcdn:edge-register'
      }
    ])
    expect(h.ctx.edges.isPending(failing)).toBe(false)
    expect(h.logs).toContainEqual({
      level: 'info',
      event: 'edge-refused',
      fields: {
        component: 'p2pcdn:tracker:edges',
        conn: failing.id,
        id: undefined,
        url: 'http://failing.test',
        reason: 'edge registration refused: challenge failed'
      }
    })
  })

  it('refuses a URL another edge holds, and logs why', () => {
    const h = createHarness({ edgeToken: TOKEN })
    send(h, h.connect(), register())
    const second = h.connect()
    send(h, second, register())
    const reply = second.sent[0] as { 'failure reason': string }
    expect(reply['failure reason']).toMatch(/^edge registration refused: ./)
    const refusal = h.logs.find(l => l.event === 'edge-refused')!
    expect(refusal.fields).toMatchObject({ conn: second.id, url: 'http://edge.test:8081' })
    expect(reply['failure reason']).toBe(`edge registration refused: ${String(refusal.fields!.reason)}`)
  })

  it('shares registrations and load reports with the cluster', async () => {
    const cluster = createFakeCluster()
    const h = createHarness({ edgeToken: TOKEN }, cluster)
    const edge = h.connect()
    send(h, edge, register())
    await settle()
    send(h, edge, { action: 'p2pcdn:edge-load', connections: 3, bytesPerSec: 100, hitRatio: 0.5 })
    const updates = cluster.calls.filter(c => c[0] === 'edgeUpdated')
    expect(updates).toHaveLength(2)
    expect(updates[1]![1]).toMatchObject({ url: 'http://edge.test:8081', connections: 3, hitRatio: 0.5 })
  })

  it('refuses a load report from a socket with no edge', () => {
    const h = createHarness()
    const conn = h.connect()
    send(h, conn, { action: 'p2pcdn:edge-load', connections: 1, bytesPerSec: 1, hitRatio: 1 })
    expect(conn.sent).toEqual([
      {
        'failure reason': 'edge load refused: this connection has no registered edge',
        code: 'ERR_PROTOCOL',
        reason: 'edge-not-registered',
        action: 'p2pcdn:edge-load'
      }
    ])
  })
})

describe('edge list', () => {
  const edge = (url: string, region: string): EdgeInfo => ({
    url,
    region,
    capacity: 1,
    connections: 0,
    bytesPerSec: 0,
    hitRatio: 0
  })

  it('lists the requested region first, else the last announced one', async () => {
    const h = createHarness({ edgeToken: TOKEN })
    send(h, h.connect(), register({ url: 'http://eu.test', region: 'eu' }))
    send(h, h.connect(), register({ url: 'http://us.test', region: 'us' }))
    const client = h.connect()
    send(h, client, { action: 'p2pcdn:edges', region: 'us' })
    await settle()
    expect((client.sent[0] as { edges: EdgeInfo[] }).edges.map(e => e.url)).toEqual([
      'http://us.test',
      'http://eu.test'
    ])
    expect(client.sent[0]).toMatchObject({ action: 'p2pcdn:edges', v: PROTOCOL_VERSION })
    send(h, client, { action: 'announce', info_hash: binaryId(), peer_id: binaryId(), region: 'eu' })
    send(h, client, { action: 'p2pcdn:edges' })
    await settle()
    expect((client.sent[2] as { edges: EdgeInfo[] }).edges.map(e => e.url)).toEqual([
      'http://eu.test',
      'http://us.test'
    ])
  })

  it('lists the cluster edges in a cluster, and says so when it cannot', async () => {
    const cluster = createFakeCluster()
    const h = createHarness({}, cluster)
    cluster.clusterEdges = [edge('http://a.test', 'us'), edge('http://b.test', 'eu')]
    const client = h.connect()
    send(h, client, { action: 'p2pcdn:edges', region: 'eu' })
    await settle()
    expect((client.sent[0] as { edges: EdgeInfo[] }).edges.map(e => e.url)).toEqual(['http://b.test', 'http://a.test'])
    cluster.clusterEdges = Promise.reject(new Error('gone'))
    cluster.clusterEdges.catch(() => {})
    send(h, client, { action: 'p2pcdn:edges' })
    await settle()
    expect(client.sent[1]).toEqual({ 'failure reason': 'edge list unavailable', action: 'p2pcdn:edges' })
    expect(h.logs).toContainEqual({
      level: 'warn',
      event: 'edge-list-failed',
      fields: { component: 'p2pcdn:tracker:edges', conn: client.id, error: 'gone' }
    })
  })
})

interface FakeResponse {
  status: number | undefined
  headers: Record<string, unknown>
  body: string | undefined
  ended: Promise<void>
}

async function get(h: Harness, url: string, method = 'GET', metrics = new ScrapeMetrics()): Promise<FakeResponse> {
  const req = { url, method } as unknown as IncomingMessage
  let done!: () => void
  const out: FakeResponse = {
    status: undefined,
    headers: {},
    body: undefined,
    ended: new Promise<void>(resolve => (done = resolve))
  }
  const res = {
    req,
    setHeader: (name: string, value: unknown) => {
      out.headers[name] = value
    },
    writeHead: (status: number, headers: Record<string, unknown>) => {
      out.status = status
      Object.assign(out.headers, headers)
    },
    end: (body?: string) => {
      out.body = body
      done()
    }
  } as unknown as ServerResponse
  handleHttpRequest(h.ctx, { connections: () => 42, metrics }, req, res)
  await out.ended
  return out
}

describe('HTTP routes', () => {
  it('answers /healthz, 404 elsewhere, 405 for other methods, no body for HEAD', async () => {
    const h = createHarness()
    const health = await get(h, '/healthz')
    expect(health).toMatchObject({
      status: 200,
      body: '{"ok":true}',
      headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': 11, 'cache-control': 'no-store' }
    })
    expect(await get(h, '/nope')).toMatchObject({ status: 404, body: '{"error":"not found"}' })
    expect(await get(h, '/healthz', 'POST')).toMatchObject({
      status: 405,
      body: '{"error":"method not allowed"}',
      headers: { allow: 'GET, HEAD' }
    })
    expect(await get(h, '/healthz', 'HEAD')).toMatchObject({ status: 200, body: undefined })
  })

  it('lists edges for a region in the p2pcdn:edges shape', async () => {
    const h = createHarness({ edgeToken: TOKEN })
    send(h, h.connect(), register({ url: 'http://eu.test', region: 'eu' }))
    send(h, h.connect(), register({ url: 'http://us.test', region: 'us' }))
    const res = await get(h, '/edges?region=us')
    const body = JSON.parse(res.body!) as { action: string; v: number; edges: EdgeInfo[] }
    expect(body.action).toBe('p2pcdn:edges')
    expect(body.v).toBe(PROTOCOL_VERSION)
    expect(body.edges.map(e => e.url)).toEqual(['http://us.test', 'http://eu.test'])
  })

  it('reports /stats: swarms biggest first, capped, with the node id in a cluster', async () => {
    const h = createHarness({ maxSwarmsPerSocket: 1000, messageBurst: 1000 })
    const conn = h.connect()
    const small = binaryId()
    const big = binaryId()
    send(h, conn, { action: 'announce', info_hash: small, peer_id: binaryId(), left: 0 })
    for (let i = 0; i < 3; i++)
      send(h, h.connect(), { action: 'announce', info_hash: big, peer_id: binaryId(), region: 'eu' })
    const stats = JSON.parse((await get(h, '/stats')).body!) as Record<string, unknown>
    expect(stats).toMatchObject({ swarms: 2, edges: 0, edgeList: [], connections: 42, peers: 4 })
    expect(stats).not.toHaveProperty('node')
    expect(stats.swarmList).toEqual([
      { infoHash: binaryStringToHex(big), peers: 3, complete: 0, incomplete: 3, peersByRegion: { eu: 3 } },
      { infoHash: binaryStringToHex(small), peers: 1, complete: 1, incomplete: 0, peersByRegion: { default: 1 } }
    ])
    for (let i = 0; i < MAX_STATS_SWARMS; i++)
      send(h, conn, { action: 'announce', info_hash: binaryId(), peer_id: binaryId() })
    const many = JSON.parse((await get(h, '/stats')).body!) as { swarmList: unknown[] }
    expect(many.swarmList).toHaveLength(MAX_STATS_SWARMS)

    const cluster = createFakeCluster('node-7')
    const hc = createHarness({}, cluster)
    expect(JSON.parse((await get(hc, '/stats')).body!)).toMatchObject({ node: 'node-7' })
  })

  it('serves /metrics as Prometheus text, and 503 when a route fails', async () => {
    const h = createHarness()
    const scrape = new ScrapeMetrics()
    const metrics = await get(h, '/metrics', 'GET', scrape)
    expect(metrics.status).toBe(200)
    expect(metrics.headers['content-type']).toBe(scrape.contentType)
    const cluster = createFakeCluster()
    const hc = createHarness({}, cluster)
    cluster.clusterEdges = Promise.reject(new Error('down'))
    cluster.clusterEdges.catch(() => {})
    expect(await get(hc, '/edges')).toMatchObject({ status: 503, body: '{"error":"unavailable"}' })
    expect(hc.logs).toContainEqual({
      level: 'warn',
      event: 'http-failed',
      fields: { component: 'p2pcdn:tracker:http', path: '/edges', error: 'down' }
    })
  })
})
