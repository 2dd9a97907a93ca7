import { describe, expect, it } from 'vitest'
import { emptyReasonBytes } from '../../../protocol/src/index.js'
import type { SourceBytes, StatsReport } from '../../../protocol/src/index.js'
import {
  BoundedTally,
  FLEET_BUCKET_MS,
  FLEET_SERIES_POINTS,
  FleetStats,
  OTHER,
  mergeSnapshots,
  parseFleetSnapshot
} from '../../../tracker/src/fleet-stats.js'
import { handleMessage } from '../../../tracker/src/handlers/handle-message.js'
import { STATS_BURST_S, STATS_CONNECTIONS_AT_OPEN } from '../../../tracker/src/stats-budgets.js'
import { createHarness, frame } from './support/handler-context.js'

const b = (peer: number, edge: number, origin = 0, cache = 0): SourceBytes => ({ cache, peer, edge, origin })

function report(bytes: SourceBytes, extra: Partial<StatsReport> = {}): StatsReport {
  return {
    action: 'p2pcdn:stats',
    v: 1,
    bytes,
    http: { ...emptyReasonBytes(), 'no-peer': bytes.edge + bytes.origin },
    connections: { attempted: 0, failed: 0 },
    resources: [],
    ...extra
  }
}

describe('FleetStats', () => {
  it('sums reports by source, reason, region, swarm and resource; the unlisted rest is (other)', () => {
    const clock = { now: 1_000_000 }
    const fleet = new FleetStats({ maxResources: 10, now: () => clock.now })
    fleet.add(
      report(b(600, 400), { swarm: 's1', resources: [{ url: 'https://e/a', bytes: b(500, 100) }] }),
      'eu',
      false
    )
    clock.now += FLEET_BUCKET_MS
    fleet.add(report(b(0, 100, 50), { swarm: 's1', connections: { attempted: 4, failed: 1 } }), 'us', true)
    const s = fleet.snapshot()
    expect(s.totals).toEqual({
      bytes: b(600, 500, 50),
      http: { ...emptyReasonBytes(), 'no-peer': 550 },
      connections: { attempted: 4, failed: 1 },
      reports: 2,
      clamped: 1
    })
    expect(s.regions).toEqual({ eu: b(600, 400), us: b(0, 100, 50) })
    expect(s.swarms).toEqual({ s1: b(600, 500, 50) })
    expect(s.resources).toEqual([
      { url: 'https://e/a', bytes: b(500, 100) },
      { url: OTHER, bytes: b(100, 400, 50) }
    ])
    expect(s.series.map(p => p.bytes)).toEqual([b(600, 400), b(0, 100, 50)])
  })

  it('keeps at most maxResources URLs: the least recently reported leaves into (other), totals stay whole', () => {
    const fleet = new FleetStats({ maxResources: 3, now: () => 0 })
    for (let i = 0; i < 1000; i++) {
      fleet.add(report(b(1, 1), { resources: [{ url: `https://e/${i}`, bytes: b(1, 1) }] }), 'eu', false)
    }
    expect(fleet.resources.size).toBe(4) // three URLs and (other)
    const rows = fleet.snapshot().resources
    expect(rows.map(r => r.url)).toEqual(['https://e/997', 'https://e/998', 'https://e/999', OTHER])
    expect(rows.reduce((n, r) => n + r.bytes.peer + r.bytes.edge, 0)).toBe(2000)
  })

  it('BoundedTally: a row reported again is the most recent and stays', () => {
    const t = new BoundedTally(2)
    t.add('a', b(1, 0))
    t.add('b', b(1, 0))
    t.add('a', b(1, 0))
    t.add('c', b(1, 0))
    expect(t.toRecord()).toEqual({ a: b(2, 0), c: b(1, 0), [OTHER]: b(1, 0) })
  })

  it('keeps one hour of 10 s points', () => {
    const clock = { now: 0 }
    const fleet = new FleetStats({ maxResources: 10, now: () => clock.now })
    for (let i = 0; i < FLEET_SERIES_POINTS + 50; i++) {
      fleet.add(report(b(1, 0)), 'eu', false)
      clock.now += FLEET_BUCKET_MS
    }
    const series = fleet.snapshot().series
    expect(series).toHaveLength(FLEET_SERIES_POINTS)
    expect(series[0]!.t).toBe(50 * FLEET_BUCKET_MS)
  })

  it('merges processes: sums by key and by series point; a stored snapshot reads back, a damaged one does not', () => {
    const one = new FleetStats({ maxResources: 10, now: () => 20_000 })
    const two = new FleetStats({ maxResources: 10, now: () => 25_000 })
    one.add(report(b(10, 5), { resources: [{ url: 'https://e/a', bytes: b(10, 5) }] }), 'eu', false)
    two.add(report(b(1, 2), { resources: [{ url: 'https://e/a', bytes: b(1, 2) }] }), 'us', false)
    const stored = parseFleetSnapshot(JSON.stringify(two.snapshot()))
    expect(stored).toEqual(two.snapshot())
    const merged = mergeSnapshots([one.snapshot(), stored!], 30_000)
    expect(merged.totals.bytes).toEqual(b(11, 7))
    expect(merged.regions).toEqual({ eu: b(10, 5), us: b(1, 2) })
    expect(merged.resources).toEqual([{ url: 'https://e/a', bytes: b(11, 7) }])
    expect(merged.series).toEqual([{ t: 20_000, bytes: b(11, 7) }])
    for (const damaged of ['{', '[]', '{"at":1}', JSON.stringify({ ...two.snapshot(), regions: { x: { peer: -1 } } })])
      expect(parseFleetSnapshot(damaged)).toBeUndefined()
  })
})

describe('handleStats: self-reported figures are clamped', () => {
  const msg = (bytes: SourceBytes, extra: Record<string, unknown> = {}): Buffer => frame({ ...report(bytes), ...extra })

  it('a socket may claim what it could fetch since it opened; beyond, the report is scaled down whole', () => {
    const h = createHarness({ statsBytesPerSecond: 1000, statsBytesPerSecondPerIp: 1_000_000 })
    const conn = h.connect({ mappedRegion: 'eu' })
    h.ctx.statsBudgets.opened(conn, h.clock.now)
    h.clock.now += 10_000 // 10 s: 10,000 bytes of budget
    handleMessage(h.ctx, conn, msg(b(4000, 4000)))
    expect(h.ctx.fleet.totals.bytes).toEqual(b(4000, 4000))
    expect(h.ctx.fleet.totals.clamped).toBe(0)
    h.clock.now += 2000 // 2,000 left + 2,000 more
    handleMessage(h.ctx, conn, msg(b(8000, 8000)))
    expect(h.ctx.fleet.totals.bytes).toEqual(b(6000, 6000))
    expect(h.ctx.fleet.totals.http['no-peer']).toBe(6000)
    expect(h.ctx.fleet.totals.clamped).toBe(1)
    expect(h.ctx.fleet.regions.toRecord()).toEqual({ eu: b(6000, 6000) })
    expect(conn.sent).toEqual([])
  })

  it('the budget holds at most STATS_BURST_S of the rate, however long the socket was quiet', () => {
    const h = createHarness({ statsBytesPerSecond: 1000, statsBytesPerSecondPerIp: 1_000_000 })
    const conn = h.connect()
    h.ctx.statsBudgets.opened(conn, h.clock.now)
    h.clock.now += 3600_000
    handleMessage(h.ctx, conn, msg(b(1e12, 0)))
    // Scaled by a float factor and rounded down: within a byte of the budget, never above.
    expect(h.ctx.fleet.totals.bytes.peer).toBeLessThanOrEqual(1000 * STATS_BURST_S)
    expect(h.ctx.fleet.totals.bytes.peer).toBeGreaterThanOrEqual(1000 * STATS_BURST_S - 1)
  })

  it('all sockets of an address share its budget', () => {
    const h = createHarness({ statsBytesPerSecond: 1000, statsBytesPerSecondPerIp: 1500 })
    const first = h.connect({ ip: '10.1.1.1' })
    const second = h.connect({ ip: '10.1.1.1', address: first.address })
    h.ctx.statsBudgets.opened(first, h.clock.now)
    h.ctx.statsBudgets.opened(second, h.clock.now)
    h.clock.now += 10_000
    handleMessage(h.ctx, first, msg(b(10_000, 0)))
    handleMessage(h.ctx, second, msg(b(10_000, 0)))
    expect(h.ctx.fleet.totals.bytes.peer).toBe(15_000)
  })

  it('reports closer than a second apart are refused with stats-too-often', () => {
    const h = createHarness()
    const conn = h.connect()
    h.ctx.statsBudgets.opened(conn, h.clock.now)
    h.clock.now += 5000
    handleMessage(h.ctx, conn, msg(b(1, 0)))
    h.clock.now += 999
    handleMessage(h.ctx, conn, msg(b(1, 0)))
    expect(conn.sent).toEqual([expect.objectContaining({ reason: 'stats-too-often', code: 'ERR_PROTOCOL' })])
    expect(h.ctx.fleet.totals.reports).toBe(1)
    h.clock.now += 1
    handleMessage(h.ctx, conn, msg(b(1, 0)))
    expect(h.ctx.fleet.totals.reports).toBe(2)
  })

  it('connection attempts are clamped too; failures never exceed attempts', () => {
    const h = createHarness()
    const conn = h.connect()
    h.ctx.statsBudgets.opened(conn, h.clock.now)
    h.clock.now += 5000 // 2 per second: 10, besides those allowed at once
    handleMessage(h.ctx, conn, msg(b(1, 0), { connections: { attempted: 9000, failed: 9000 } }))
    const allowed = STATS_CONNECTIONS_AT_OPEN + 10
    expect(h.ctx.fleet.totals.connections).toEqual({ attempted: allowed, failed: allowed })
  })
})
