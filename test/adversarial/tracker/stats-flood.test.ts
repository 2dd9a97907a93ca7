/**
 * Hostile stats reports against a tracker in a child process: garbage and oversized
 * reports are refused (and a frame over the tracker's limit closes only its own socket);
 * a flood from many sockets of one address, each claiming a petabyte per report with 20
 * fresh URLs, adds no more than the address's byte budget, keeps the resource table at
 * `maxStatsResources`, keeps RSS bounded, and an honest visitor from another address is
 * still counted in full and served.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { MAX_STATS_FIGURE } from '../../../protocol/src/index.js'
import { barrier } from '../../helpers/barrier.js'
import { binaryId, isAnnounceReply, isFailure } from '../../helpers/tracker-client.js'
import type { Json } from '../../helpers/tracker-client.js'
import { join } from '../../helpers/tracker-harness.js'
import { MiB, connectFrom, mb, openFlood, record, startTracker, stopTrackers, underAttack } from './support/harness.js'
import type { FloodSocket } from './support/harness.js'

const TOKEN = 'adv-dashboard'
afterAll(stopTrackers)

const zero = { cache: 0, peer: 0, edge: 0, origin: 0 }
function report(bytes: Json, extra: Json = {}): Json {
  return { action: 'p2pcdn:stats', v: 1, bytes, http: {}, connections: {}, resources: [], ...extra }
}

async function dashboard(httpUrl: string): Promise<any> {
  const res = await fetch(`${httpUrl}/dashboard.json`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return await res.json()
}

describe('garbage stats reports', () => {
  it('are refused with ERR_INVALID_MESSAGE; one over the frame limit closes only its socket; nothing is counted', async () => {
    const tracker = await startTracker({ dashboardToken: TOKEN })
    const client = await connectFrom(tracker.url, '127.0.8.1')
    const nested = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
    const garbage: Array<Json | string> = [
      report({ ...zero, peer: MAX_STATS_FIGURE + 1 }),
      report({ ...zero, peer: 1e308 }),
      report({ ...zero, peer: -1 }),
      report({ ...zero, peer: '1e15' }),
      report(zero, { resources: Array.from({ length: 21 }, (_, i) => ({ url: `u${i}`, bytes: zero })) }),
      report(zero, { resources: [{ url: 'x'.repeat(257), bytes: zero }] }),
      report(zero, { swarm: { toString: 'x' } }),
      report(zero, { pad: 'x'.repeat(20_000) }),
      `{"action":"p2pcdn:stats","v":1,"bytes":${nested}}`,
      '{"action":"p2pcdn:stats"',
      report(zero, { connections: { attempted: 1e9 } })
    ]
    for (const g of garbage) client.send(g)
    await barrier(client)
    const replies = client.inbox.splice(0).filter(isFailure)
    expect(replies).toHaveLength(garbage.length)
    for (const r of replies) expect(r.code).toBe('ERR_INVALID_MESSAGE')
    // Over the 64 KiB frame limit: ws closes that socket (1009), the rest go on.
    const big = await connectFrom(tracker.url, '127.0.8.2')
    big.send(report(zero, { pad: 'x'.repeat(70_000) }))
    expect(await big.closed).toBe(1009)
    await join(client, binaryId(), binaryId())
    expect((await dashboard(tracker.httpUrl)).fleet.totals.reports).toBe(0)
    record('stats-garbage', { refused: replies.length, oversizedClose: 1009 })
  })
})

describe('a flood of inflated stats reports', () => {
  it('adds at most the address budget, keeps tables bounded, and the tracker keeps serving', async () => {
    const PER_SOCKET = 1_000_000
    const PER_IP = 4_000_000
    const MAX_RESOURCES = 100
    const SOCKETS = 50
    const ATTACK_MS = 3000
    const tracker = await startTracker({
      dashboardToken: TOKEN,
      statsBytesPerSecond: PER_SOCKET,
      statsBytesPerSecondPerIp: PER_IP,
      maxStatsResources: MAX_RESOURCES
    })
    const honest = await connectFrom(tracker.url, '127.0.9.2')
    const flood: FloodSocket[] = []
    for (let i = 0; i < SOCKETS; i++) flood.push(await openFlood(tracker.url, '127.0.9.1'))
    const opened = Date.now()
    const huge = { cache: 0, peer: MAX_STATS_FIGURE, edge: 0, origin: 0 }
    let sent = 0
    const m = await underAttack(tracker, async () => {
      const end = Date.now() + ATTACK_MS
      while (Date.now() < end) {
        for (const s of flood) {
          // 20 fresh 256-character URLs per report: a resource table that grows with them would not stop.
          const resources = Array.from({ length: 20 }, (_, i) => ({
            url: `https://victim.example/${randomBytes(120).toString('hex')}`.slice(0, 256),
            bytes: i === 0 ? huge : zero
          }))
          s.send(report(huge, { resources, region: `r-${randomBytes(8).toString('hex')}` }))
          sent++
        }
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    })
    const elapsedS = (Date.now() - opened) / 1000
    // The honest visitor, from its own address, after as long: counted whole, no clamp.
    await new Promise(resolve => setTimeout(resolve, 1000))
    honest.send(report({ cache: 0, peer: 500_000, edge: 100_000, origin: 0 }, { http: { 'no-peer': 100_000 } }))
    await barrier(honest)
    expect(honest.inbox.filter(isFailure)).toEqual([])
    const d = await dashboard(tracker.httpUrl)
    const floodPeer = d.fleet.totals.bytes.peer - 500_000
    const budget = PER_IP * (elapsedS + 1)
    const failures = flood.reduce((n, s) => n + s.counts.failures, 0)
    const clampedReports = await tracker.metric('p2pcdn_fleet_reports_clamped_total')
    record('stats-flood', {
      sockets: SOCKETS,
      reportsSent: sent,
      reportsTaken: d.fleet.totals.reports,
      refusedTooOften: failures,
      claimedBytes: sent * MAX_STATS_FIGURE,
      countedBytes: floodPeer,
      budgetBytes: Math.round(budget),
      clamped: clampedReports,
      rssBaseline: mb(m.baseline),
      rssPeak: mb(m.peak)
    })
    expect(m.error).toBeUndefined()
    expect(tracker.alive()).toBe(true)
    expect(floodPeer).toBeGreaterThan(0)
    expect(floodPeer).toBeLessThanOrEqual(budget)
    expect(d.fleet.totals.bytes.edge).toBe(100_000)
    // At most one report per second per socket was taken (the rest refused as stats-too-often,
    // or dropped by the message budgets), and the honest one.
    expect(failures).toBeGreaterThan(0)
    expect(d.fleet.totals.reports).toBeLessThanOrEqual(SOCKETS * Math.ceil(elapsedS + 1) + 1)
    expect(d.fleet.resources.length).toBeLessThanOrEqual(51)
    expect(Object.keys(d.fleet.regions).length).toBeLessThanOrEqual(65)
    expect(m.peak - m.baseline).toBeLessThan(96 * MiB)
    // Still serving the protocol.
    const peer = await connectFrom(tracker.url, '127.0.9.3')
    peer.send({ action: 'announce', info_hash: binaryId(), peer_id: binaryId(), event: 'started', numwant: 0 })
    expect(await peer.next(isAnnounceReply)).toMatchObject({ action: 'announce' })
  }, 60_000)
})
