/**
 * The tracker's message handlers driven directly (no sockets): exact replies, counters
 * and log lines of handle-message, failure, announce and scrape. Written to kill the
 * mutants Stryker found surviving in tracker/src/handlers (test/MUTATION.md).
 */
import { describe, expect, it } from 'vitest'
import { handleMessage } from '../../../tracker/src/handlers/handle-message.js'
import { failureReply, replyFailure } from '../../../tracker/src/handlers/failure.js'
import { ProtocolError } from '../../../protocol/src/index.js'
import { Refusal } from '../../../tracker/src/refusal.js'
import { MAX_SCRAPE_ALL_SWARMS } from '../../../tracker/src/handlers/scrape.js'
import { binaryId, createHarness, frame } from './support/handler-context.js'
import type { FakeConnection, Harness } from './support/handler-context.js'

const sdp = (text: string): { type: 'offer'; sdp: string } => ({ type: 'offer', sdp: text })
const offersOf = (n: number): Array<{ offer: { type: 'offer'; sdp: string }; offer_id: string }> =>
  Array.from({ length: n }, (_, i) => ({ offer: sdp(`sdp-${i}`), offer_id: binaryId() }))

function announce(h: Harness, conn: FakeConnection, fields: Record<string, unknown>): Record<string, unknown> {
  handleMessage(h.ctx, conn, frame({ action: 'announce', ...fields }))
  return conn.sent.at(-1)!
}

describe('handleMessage: failures', () => {
  it('answers text that is not JSON with the parser error, counted and logged at debug', () => {
    const h = createHarness()
    const conn = h.connect()
    handleMessage(h.ctx, conn, frame('{nope'))
    expect(conn.sent).toEqual([
      { 'failure reason': 'message is not JSON', code: 'ERR_INVALID_MESSAGE', reason: 'invalid-message' }
    ])
    expect(h.ctx.metrics.rejects.get('invalid-message')).toBe(1)
    expect(h.logs).toEqual([
      {
        level: 'debug',
        event: 'request-refused',
        fields: {
          component: 'p2pcdn:tracker:server',
          conn: conn.id,
          action: undefined,
          code: 'ERR_INVALID_MESSAGE',
          reason: 'invalid-message'
        }
      }
    ])
  })

  it('echoes the action and info_hash of a request that did not parse, when readable', () => {
    const h = createHarness()
    const conn = h.connect()
    const infoHash = binaryId()
    handleMessage(h.ctx, conn, frame({ action: 'announce', info_hash: infoHash, peer_id: 'short' }))
    expect(conn.sent[0]).toEqual({
      'failure reason': 'invalid peer_id: expected a 20-character binary string',
      code: 'ERR_INVALID_MESSAGE',
      reason: 'invalid-message',
      action: 'announce',
      info_hash: infoHash
    })
    expect(h.logs[0]!.fields).toMatchObject({ action: 'announce' })
  })

  it('echoes no action longer than 64 characters, no info_hash that is not an id, nothing from non-objects', () => {
    const h = createHarness()
    const conn = h.connect()
    const long = 'x'.repeat(65)
    handleMessage(h.ctx, conn, frame({ action: long, info_hash: 'not an id' }))
    expect(conn.sent[0]).toEqual({
      'failure reason': `unknown action: ${JSON.stringify(long).slice(0, 64)}`,
      code: 'ERR_INVALID_MESSAGE',
      reason: 'invalid-message'
    })
    // The logged action is cut to 64 characters.
    expect(h.logs[0]!.fields!.action).toBe('x'.repeat(64))
    handleMessage(h.ctx, conn, frame({ action: 'x'.repeat(64) }))
    expect(conn.sent[1]).toMatchObject({ action: 'x'.repeat(64) })
    for (const raw of ['"announce"', '[1]', 'null', '7']) {
      handleMessage(h.ctx, conn, frame(raw))
      expect(Object.keys(conn.sent.at(-1)!).sort()).toEqual(['code', 'failure reason', 'reason'])
    }
  })

  it('hides the message of an error that is not the remote fault, and logs it as an error', () => {
    const h = createHarness()
    const conn = h.connect()
    h.ctx.swarms.getOrCreate = () => {
      throw new Error('secret internals')
    }
    const infoHash = binaryId()
    announce(h, conn, { info_hash: infoHash, peer_id: binaryId() })
    expect(conn.sent).toEqual([{ 'failure reason': 'internal tracker error', action: 'announce', info_hash: infoHash }])
    expect(h.ctx.metrics.rejects.size).toBe(0)
    expect(h.logs).toEqual([
      {
        level: 'error',
        event: 'handler-failed',
        fields: {
          component: 'p2pcdn:tracker:server',
          conn: conn.id,
          action: 'announce',
          error: 'Error: secret internals'
        }
      }
    ])
  })

  it('takes a plain ProtocolError for an edge refusal and a Refusal by its reason; non-Errors are internal', () => {
    const h = createHarness()
    const conn = h.connect()
    replyFailure(h.ctx, conn, new ProtocolError('no'), {})
    replyFailure(h.ctx, conn, new Refusal('swarm-full', 'full'), {})
    expect(h.ctx.metrics.rejects.get('edge-refused')).toBe(1)
    expect(h.ctx.metrics.rejects.get('swarm-full')).toBe(1)
    expect(conn.sent).toEqual([
      { 'failure reason': 'no', code: 'ERR_PROTOCOL' },
      { 'failure reason': 'full', code: 'ERR_PROTOCOL', reason: 'swarm-full' }
    ])
    expect(failureReply({ code: 'ERR_PROTOCOL', message: 'not an Error' }, {})).toEqual({
      'failure reason': 'internal tracker error'
    })
    const odd = Object.assign(new Error('odd code'), { code: 'ERR_SOMETHING_ELSE' })
    expect(failureReply(odd, {})).toEqual({ 'failure reason': 'internal tracker error' })
    expect(failureReply(Object.assign(new Error('n'), { code: 7 }), {})).toEqual({
      'failure reason': 'internal tracker error'
    })
  })
})

describe('handleMessage: budgets', () => {
  it('serves a burst, then warns through the debt, then refuses once per episode', () => {
    const h = createHarness({ messagesPerSecond: 1, messageBurst: 2 })
    const conn = h.connect()
    const infoHash = binaryId()
    const peerId = binaryId()
    const replies = Array.from({ length: 6 }, () => {
      handleMessage(h.ctx, conn, frame({ action: 'announce', info_hash: infoHash, peer_id: peerId }))
      return conn.sent.length
    })
    // Two plain replies, two warned, then one refusal, then silence.
    expect(replies).toEqual([1, 2, 3, 4, 5, 5])
    expect(conn.sent[1]).not.toHaveProperty('warning message')
    expect(conn.sent[2]).toMatchObject({
      'warning message': 'slow down: over 1 messages per second on this connection'
    })
    expect(conn.sent[3]).toMatchObject({
      'warning message': 'slow down: over 1 messages per second on this connection'
    })
    expect(conn.sent[4]).toEqual({
      'failure reason': 'too many messages: at most 1 per second on one connection',
      code: 'ERR_PROTOCOL',
      reason: 'rate-limited',
      action: 'announce',
      info_hash: infoHash
    })
    expect(h.ctx.metrics.rejects.get('rate-limited')).toBe(2)
    expect(conn.throttled).toBe(true)
    expect(h.logs.filter(l => l.event === 'rate-limited')).toEqual([
      {
        level: 'info',
        event: 'rate-limited',
        fields: { component: 'p2pcdn:tracker:server', conn: conn.id, ip: conn.ip, reason: 'rate-limited' }
      }
    ])
    // Once the bucket has refilled the socket is served, and told again next time.
    h.clock.now += 3000
    handleMessage(h.ctx, conn, frame({ action: 'announce', info_hash: infoHash, peer_id: peerId }))
    expect(conn.sent[5]).toMatchObject({ action: 'announce', complete: 0, incomplete: 1 })
    expect(conn.throttled).toBe(false)
  })

  it('a refused frame that is not JSON still gets one reply, with nothing echoed', () => {
    const h = createHarness({ messagesPerSecond: 1, messageBurst: 0 })
    const conn = h.connect()
    conn.bucket.level = -5
    handleMessage(h.ctx, conn, frame('{garbage'))
    expect(conn.sent).toEqual([
      {
        'failure reason': 'too many messages: at most 1 per second on one connection',
        code: 'ERR_PROTOCOL',
        reason: 'rate-limited'
      }
    ])
  })

  it('shares an address budget between sockets, and says so', () => {
    const h = createHarness({ messagesPerSecondPerIp: 2, messageBurstPerIp: 1 })
    const first = h.connect({ ip: '192.0.2.1' })
    const second = h.connect({ ip: '192.0.2.1', address: first.address })
    const infoHash = binaryId()
    announce(h, first, { info_hash: infoHash, peer_id: binaryId() })
    const warned = announce(h, second, { info_hash: infoHash, peer_id: binaryId() })
    expect(warned).toMatchObject({ 'warning message': 'slow down: over 2 messages per second from this address' })
    const refused = announce(h, first, { info_hash: infoHash, peer_id: binaryId() })
    expect(refused).toEqual({
      'failure reason': 'too many messages: at most 2 per second from one address',
      code: 'ERR_PROTOCOL',
      reason: 'rate-limited-ip',
      action: 'announce',
      info_hash: infoHash
    })
    expect(h.ctx.metrics.rejects.get('rate-limited-ip')).toBe(1)
    expect(h.logs.find(l => l.event === 'rate-limited')!.fields).toMatchObject({ reason: 'rate-limited-ip' })
    // The socket's own bucket was not charged for the refused message.
    expect(first.bucket.level).toBe(h.config.messageBurst - 1)
  })

  it('lets a registered edge past its exhausted address budget, charging only its own', async () => {
    const h = createHarness({ edgeToken: 'shared-token', messageBurstPerIp: 1, messagesPerSecondPerIp: 1 })
    const edge = h.connect({ ip: '192.0.2.9' })
    handleMessage(
      h.ctx,
      edge,
      frame({ action: 'p2pcdn:edge-register', token: 'shared-token', url: 'http://edge.test', region: 'eu' })
    )
    await Promise.resolve()
    expect(edge.sent[0]).toMatchObject({ action: 'p2pcdn:edge-registered' })
    edge.address.bucket.level = -10
    const ownBefore = edge.bucket.level
    handleMessage(h.ctx, edge, frame({ action: 'p2pcdn:edges' }))
    await Promise.resolve()
    expect(edge.sent[1]).toMatchObject({ action: 'p2pcdn:edges' })
    expect(edge.address.bucket.level).toBe(-10)
    expect(edge.bucket.level).toBe(ownBefore - 1)
    // An anonymous socket of the same address is refused.
    const anon = h.connect({ ip: '192.0.2.9', address: edge.address })
    handleMessage(h.ctx, anon, frame({ action: 'p2pcdn:edges' }))
    expect(anon.sent[0]).toMatchObject({ code: 'ERR_PROTOCOL' })
  })

  it('relays an answer to a forwarded offer for free, even over budget, once per offer', () => {
    const h = createHarness({ messagesPerSecond: 1, messageBurst: 1 })
    const infoHash = binaryId()
    const seeder = h.connect()
    const seederId = binaryId()
    announce(h, seeder, { info_hash: infoHash, peer_id: seederId, left: 0 })
    const leecher = h.connect()
    const leecherId = binaryId()
    const offers = offersOf(1)
    announce(h, leecher, { info_hash: infoHash, peer_id: leecherId, offers })
    expect(seeder.sent.at(-1)).toMatchObject({ offer_id: offers[0]!.offer_id })
    seeder.bucket.level = -100
    const answer = {
      action: 'announce',
      info_hash: infoHash,
      peer_id: seederId,
      to_peer_id: leecherId,
      offer_id: offers[0]!.offer_id,
      answer: { type: 'answer', sdp: 'answer-sdp' }
    }
    handleMessage(h.ctx, seeder, frame(answer))
    expect(leecher.sent.at(-1)).toMatchObject({ answer: { type: 'answer', sdp: 'answer-sdp' }, peer_id: seederId })
    expect(seeder.bucket.level).toBe(-100)
    // The credit is spent: the next answer pays, and is refused.
    const before = leecher.sent.length
    handleMessage(h.ctx, seeder, frame(answer))
    expect(leecher.sent.length).toBe(before)
    expect(seeder.sent.at(-1)).toMatchObject({ code: 'ERR_PROTOCOL' })
  })

  it('an invalid frame that spends an answer credit is refused over budget, and answered when not', () => {
    const h = createHarness()
    const conn = h.connect()
    conn.answerCredits.grant(h.clock.now, 50_000, 10)
    handleMessage(h.ctx, conn, frame('{"answer": broken'))
    expect(conn.sent).toEqual([
      { 'failure reason': 'message is not JSON', code: 'ERR_INVALID_MESSAGE', reason: 'invalid-message' }
    ])
    expect(conn.answerCredits.any).toBe(false)
    // A valid non-answer frame with "answer" in it is served the normal way.
    conn.answerCredits.grant(h.clock.now, 50_000, 10)
    const infoHash = binaryId()
    const reply = announce(h, conn, { info_hash: infoHash, peer_id: binaryId(), region: '"answer"' })
    expect(reply).toMatchObject({ action: 'announce', incomplete: 1 })
    // Both frames were charged to the socket's budget.
    expect(conn.bucket.level).toBe(h.config.messageBurst - 2)
  })
})

describe('announce', () => {
  it('replies with the cached head, the counts and no warning', () => {
    const h = createHarness({ announceIntervalS: 120, minAnnounceIntervalS: 60 })
    const conn = h.connect()
    const infoHash = binaryId()
    handleMessage(h.ctx, conn, frame({ action: 'announce', info_hash: infoHash, peer_id: binaryId(), left: 0 }))
    expect(conn.texts[0]).toBe(
      `{"action":"announce","interval":120,"min interval":60,"info_hash":${JSON.stringify(infoHash)},"complete":1,"incomplete":0}`
    )
    expect(h.ctx.metrics.announces).toBe(1)
  })

  it('forwards offers to distinct reading peers with the sender region, caps them and says so', () => {
    const h = createHarness({ maxOffersPerAnnounce: 2 })
    const infoHash = binaryId()
    const peers = Array.from({ length: 4 }, () => h.connect())
    for (const p of peers) announce(h, p, { info_hash: infoHash, peer_id: binaryId(), region: 'eu' })
    peers[3]!.backlogged = true
    const sender = h.connect()
    const senderId = binaryId()
    const offers = offersOf(3)
    const reply = announce(h, sender, { info_hash: infoHash, peer_id: senderId, offers, region: 'us' })
    expect(reply['warning message']).toBe('only 2 of 3 offers are forwarded per announce')
    const forwarded = peers.flatMap(p => p.texts.filter(t => t.includes('"offer":')))
    expect(forwarded).toHaveLength(2)
    expect(peers[3]!.texts.filter(t => t.includes('"offer":'))).toEqual([])
    const ids = new Set(forwarded.map(t => (JSON.parse(t) as { offer_id: string }).offer_id))
    expect(ids).toEqual(new Set([offers[0]!.offer_id, offers[1]!.offer_id]))
    expect(JSON.parse(forwarded[0]!)).toEqual({
      action: 'announce',
      offer: { type: 'offer', sdp: expect.stringMatching(/^sdp-[01]$/) as unknown },
      offer_id: expect.any(String) as unknown,
      peer_id: senderId,
      info_hash: infoHash,
      region: 'us'
    })
    expect(h.ctx.metrics.offersRelayed).toBe(2)
  })

  it('honours numwant (rounded down), joins the rate warning and the cap warning', () => {
    const h = createHarness({ maxOffersPerAnnounce: 1, messagesPerSecond: 1, messageBurst: 1 })
    const infoHash = binaryId()
    const peers = Array.from({ length: 3 }, () => h.connect())
    for (const p of peers) announce(h, p, { info_hash: infoHash, peer_id: binaryId() })
    const sender = h.connect()
    const senderId = binaryId()
    announce(h, sender, { info_hash: infoHash, peer_id: senderId })
    const reply = announce(h, sender, { info_hash: infoHash, peer_id: senderId, offers: offersOf(3) })
    expect(reply['warning message']).toBe(
      'slow down: over 1 messages per second on this connection; only 1 of 3 offers are forwarded per announce'
    )
    const h2 = createHarness()
    const others = Array.from({ length: 3 }, () => h2.connect())
    for (const p of others) announce(h2, p, { info_hash: infoHash, peer_id: binaryId() })
    const asker = h2.connect()
    const r2 = announce(h2, asker, { info_hash: infoHash, peer_id: binaryId(), offers: offersOf(3), numwant: 1.9 })
    expect(r2).not.toHaveProperty('warning message')
    expect(h2.ctx.metrics.offersRelayed).toBe(1)
    announce(h2, asker, { info_hash: infoHash, peer_id: binaryId(), offers: offersOf(3), numwant: 0 })
    expect(h2.ctx.metrics.offersRelayed).toBe(1)
  })

  it('forwards no offers of a peer that stops, and drops the empty swarm', () => {
    const h = createHarness()
    const infoHash = binaryId()
    const other = h.connect()
    const otherId = binaryId()
    announce(h, other, { info_hash: infoHash, peer_id: otherId })
    const leaver = h.connect()
    const leaverId = binaryId()
    announce(h, leaver, { info_hash: infoHash, peer_id: leaverId })
    expect(leaver.swarms.get(infoHash)).toBe(leaverId)
    announce(h, leaver, { info_hash: infoHash, peer_id: leaverId, event: 'stopped', offers: offersOf(1) })
    expect(other.texts.filter(t => t.includes('"offer":'))).toEqual([])
    expect(leaver.swarms.has(infoHash)).toBe(false)
    expect(h.ctx.metrics.offersRelayed).toBe(0)
    announce(h, other, { info_hash: infoHash, peer_id: otherId, event: 'stopped' })
    expect(h.ctx.swarms.size).toBe(0)
  })

  it('takes the mapped region over the claimed one, the claimed over the last one, then the default', () => {
    const h = createHarness()
    const infoHash = binaryId()
    const mapped = h.connect({ mappedRegion: 'mapped' })
    announce(h, mapped, { info_hash: infoHash, peer_id: binaryId(), region: 'claimed' })
    expect(mapped.region).toBe('mapped')
    const plain = h.connect()
    const id = binaryId()
    announce(h, plain, { info_hash: infoHash, peer_id: id })
    expect(plain.region).toBe('default')
    announce(h, plain, { info_hash: infoHash, peer_id: id, region: 'eu' })
    expect(plain.region).toBe('eu')
    announce(h, plain, { info_hash: infoHash, peer_id: id })
    expect(plain.region).toBe('eu')
    expect(h.ctx.swarms.get(infoHash)!.get(id)!.region).toBe('eu')
  })

  it('refuses one swarm too many and one peer id too many, but never a stop', () => {
    const h = createHarness({ maxSwarmsPerSocket: 1 })
    const conn = h.connect()
    const first = binaryId()
    announce(h, conn, { info_hash: first, peer_id: binaryId() })
    const second = binaryId()
    expect(announce(h, conn, { info_hash: second, peer_id: binaryId() })).toEqual({
      'failure reason': 'this connection is already in 1 swarms',
      code: 'ERR_PROTOCOL',
      reason: 'too-many-swarms',
      action: 'announce',
      info_hash: second
    })
    expect(h.ctx.metrics.rejects.get('too-many-swarms')).toBe(1)
    expect(h.ctx.swarms.get(second)).toBeUndefined()
    expect(announce(h, conn, { info_hash: second, peer_id: binaryId(), event: 'stopped' })).toMatchObject({
      action: 'announce',
      incomplete: 0
    })

    const many = createHarness()
    const shared = many.connect()
    const infoHash = binaryId()
    const ids = Array.from({ length: 8 }, () => binaryId())
    for (const id of ids)
      expect(announce(many, shared, { info_hash: infoHash, peer_id: id })).not.toHaveProperty('code')
    // A peer id it already uses is fine; a ninth is not.
    expect(announce(many, shared, { info_hash: infoHash, peer_id: ids[3] })).toMatchObject({ incomplete: 8 })
    expect(announce(many, shared, { info_hash: infoHash, peer_id: binaryId() })).toMatchObject({
      'failure reason': 'this connection already uses 8 peer ids in this swarm',
      code: 'ERR_PROTOCOL'
    })
  })

  it('drops the swarm it created when the swarm refuses the peer', () => {
    const h = createHarness({ maxPeersPerSwarm: 0 })
    const conn = h.connect()
    const infoHash = binaryId()
    expect(announce(h, conn, { info_hash: infoHash, peer_id: binaryId() })).toMatchObject({
      'failure reason': 'swarm is full; try again later'
    })
    expect(h.ctx.swarms.size).toBe(0)
    expect(conn.swarms.size).toBe(0)
  })
})

describe('scrape', () => {
  it('reports the named swarms, zeros for unknown ones, downloaded as complete', () => {
    const h = createHarness({ announceIntervalS: 90 })
    const conn = h.connect()
    const known = binaryId()
    announce(h, conn, { info_hash: known, peer_id: binaryId(), left: 0 })
    announce(h, h.connect(), { info_hash: known, peer_id: binaryId() })
    const unknown = binaryId()
    handleMessage(h.ctx, conn, frame({ action: 'scrape', info_hash: [known, unknown] }))
    expect(conn.sent.at(-1)).toEqual({
      action: 'scrape',
      files: {
        [known]: { complete: 1, incomplete: 1, downloaded: 1 },
        [unknown]: { complete: 0, incomplete: 0, downloaded: 0 }
      },
      flags: { min_request_interval: 90 }
    })
  })

  it('reports at most MAX_SCRAPE_ALL_SWARMS swarms when none is named', () => {
    const h = createHarness({ maxSwarmsPerSocket: 1000, messageBurst: 1000, messageBurstPerIp: 1000 })
    const conn = h.connect()
    const hashes = Array.from({ length: MAX_SCRAPE_ALL_SWARMS + 1 }, () => binaryId())
    for (const infoHash of hashes) announce(h, conn, { info_hash: infoHash, peer_id: binaryId() })
    handleMessage(h.ctx, conn, frame({ action: 'scrape' }))
    const files = (conn.sent.at(-1) as { files: Record<string, unknown> }).files
    expect(Object.keys(files)).toEqual(hashes.slice(0, MAX_SCRAPE_ALL_SWARMS))
  })
})
