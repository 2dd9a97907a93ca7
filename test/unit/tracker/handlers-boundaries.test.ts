/**
 * Boundaries of the tracker's handlers that the first handler tests left open (the
 * second round of survivors in test/MUTATION.md): exact cap and budget edges, the cluster
 * calls of a stop, and the less travelled refusals of edge registration.
 */
import { describe, expect, it } from 'vitest'
import type { EdgeInfo } from '../../../protocol/src/index.js'
import { sha256 } from '../../../service/src/secret.js'
import { failureReply } from '../../../tracker/src/handlers/failure.js'
import { handleMessage } from '../../../tracker/src/handlers/handle-message.js'
import { ProtocolError } from '../../../protocol/src/index.js'
import { RegionMap } from '../../../tracker/src/region-map.js'
import { binaryId, createFakeCluster, createHarness, frame, settle } from './support/handler-context.js'
import type { FakeConnection, Harness } from './support/handler-context.js'

const offersOf = (n: number): Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> =>
  Array.from({ length: n }, (_, i) => ({ offer: { type: 'offer', sdp: `sdp-${i}` }, offer_id: binaryId() }))

function send(h: Harness, conn: FakeConnection, message: Record<string, unknown>): Record<string, unknown> | undefined {
  handleMessage(h.ctx, conn, frame(message))
  return conn.sent.at(-1)
}

describe('announce boundaries', () => {
  it('says nothing about the cap when the offers are exactly at it', () => {
    const h = createHarness({ maxOffersPerAnnounce: 2 })
    const infoHash = binaryId()
    for (let i = 0; i < 2; i++) send(h, h.connect(), { action: 'announce', info_hash: infoHash, peer_id: binaryId() })
    const reply = send(h, h.connect(), {
      action: 'announce',
      info_hash: infoHash,
      peer_id: binaryId(),
      offers: offersOf(2)
    })
    expect(reply).not.toHaveProperty('warning message')
    expect(h.ctx.metrics.offersRelayed).toBe(2)
  })

  it('warns about no cap on a stop, whose offers are dropped anyway', () => {
    const h = createHarness({ maxOffersPerAnnounce: 1 })
    const infoHash = binaryId()
    const conn = h.connect()
    const id = binaryId()
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id })
    const reply = send(h, conn, {
      action: 'announce',
      info_hash: infoHash,
      peer_id: id,
      event: 'stopped',
      offers: offersOf(3)
    })
    expect(reply).toMatchObject({ action: 'announce', incomplete: 0 })
    expect(reply).not.toHaveProperty('warning message')
  })

  it('counts a ninth peer id as too-many-swarms', () => {
    const h = createHarness()
    const conn = h.connect()
    const infoHash = binaryId()
    for (let i = 0; i < 9; i++) send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: binaryId() })
    expect([...h.ctx.metrics.rejects]).toEqual([['too-many-swarms', 1]])
  })

  it('tells the cluster only about the peer that left, and answers the stop', async () => {
    const cluster = createFakeCluster('me')
    const h = createHarness({}, cluster)
    const infoHash = binaryId()
    const conn = h.connect()
    const id = binaryId()
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id })
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id })
    await settle()
    expect(cluster.calls.filter(c => c[0] === 'peerLeft')).toEqual([])
    send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id, event: 'stopped' })
    await settle()
    expect(cluster.calls.filter(c => c[0] === 'peerLeft')).toEqual([['peerLeft', infoHash, id, 'default']])
    // A stop is not a claim: no peerUpdated, and a plain announce reply.
    expect(cluster.calls.filter(c => c[0] === 'peerUpdated')).toHaveLength(2)
    expect(conn.sent.at(-1)).toEqual({
      action: 'announce',
      interval: 120,
      'min interval': 30,
      info_hash: infoHash,
      complete: 0,
      incomplete: 0
    })
  })
})

describe('budget boundaries', () => {
  it('warns only once the address bucket is in debt, and refills it with time', () => {
    const h = createHarness({ messagesPerSecondPerIp: 1, messageBurstPerIp: 1 })
    const conn = h.connect({ ip: '192.0.2.7' })
    const infoHash = binaryId()
    const id = binaryId()
    // Level 1 -> 0: no debt, no warning.
    expect(send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id })).not.toHaveProperty(
      'warning message'
    )
    expect(send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id })).toHaveProperty('warning message')
    expect(send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id })).toMatchObject({
      code: 'ERR_PROTOCOL'
    })
    // Three seconds refill the address: served again, without a warning.
    h.clock.now += 3000
    expect(send(h, conn, { action: 'announce', info_hash: infoHash, peer_id: id })).toEqual(
      expect.not.objectContaining({ code: 'ERR_PROTOCOL' }) as unknown
    )
    expect(conn.sent.at(-1)).not.toHaveProperty('warning message')
  })

  it('spends no answer credit on a frame that is not an answer', () => {
    const h = createHarness()
    const conn = h.connect()
    conn.answerCredits.grant(h.clock.now, 50_000, 10)
    send(h, conn, { action: 'announce', info_hash: binaryId(), peer_id: binaryId() })
    expect(conn.answerCredits.any).toBe(true)
  })
})

describe('failure replies', () => {
  it('carry no code key at all for an internal error', () => {
    expect(Object.keys(failureReply(new Error('x'), {}))).toEqual(['failure reason'])
    expect(Object.keys(failureReply(new ProtocolError('x'), {}))).toEqual(['failure reason', 'code'])
  })
})

const TOKEN = 'shared-edge-token'
const register = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  action: 'p2pcdn:edge-register',
  token: TOKEN,
  url: 'http://edge.test:8081',
  region: 'eu',
  ...fields
})
const edgesFile = (): Harness['config']['edges'] =>
  new Map([
    ['eu1', { id: 'eu1', urls: new Set(['https://eu1.cdn.test']), secretHash: sha256('eu1-secret-0123456789') }]
  ])

describe('edge registration boundaries', () => {
  it('refuses an unknown id even with the secret the unknown ids are checked against', () => {
    const h = createHarness({ edges: edgesFile() })
    const edge = h.connect()
    send(h, edge, register({ id: 'nope', token: 'no such edge' }))
    expect(edge.sent).toEqual([
      {
        'failure reason': 'edge registration refused: unknown edge id or wrong secret',
        code: 'ERR_PROTOCOL',
        reason: 'edge-refused',
        action: 'p2pcdn:edge-register'
      }
    ])
  })

  it('refuses shared-token registration with an edges file and no token, even when allowed', () => {
    const h = createHarness({ edges: edgesFile(), allowSharedEdgeToken: true })
    const edge = h.connect()
    send(h, edge, register())
    expect(edge.sent[0]).toMatchObject({
      'failure reason':
        'edge registration refused: this tracker lists its edges: register with an edge id and its secret'
    })
  })

  it('refuses a URL that passes the parser but not URL', () => {
    const h = createHarness({ edgeToken: TOKEN })
    const edge = h.connect()
    send(h, edge, register({ url: 'http://[' }))
    expect(edge.sent).toEqual([
      {
        'failure reason': 'edge registration refused: http://[ is not a URL',
        code: 'ERR_PROTOCOL',
        reason: 'edge-refused',
        action: 'p2pcdn:edge-register'
      }
    ])
  })

  it('lists edges of the neighbour regions next, before the rest', async () => {
    const h = createHarness({ edgeToken: TOKEN, regions: new RegionMap([], new Map([['eu', ['us']]])) })
    for (const region of ['ap', 'us', 'eu']) send(h, h.connect(), register({ url: `http://${region}.test`, region }))
    const client = h.connect()
    send(h, client, { action: 'p2pcdn:edges', region: 'eu' })
    await settle()
    expect((client.sent[0] as { edges: EdgeInfo[] }).edges.map(e => e.url)).toEqual([
      'http://eu.test',
      'http://us.test',
      'http://ap.test'
    ])
  })
})
