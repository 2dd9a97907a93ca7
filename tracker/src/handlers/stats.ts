/**
 * `p2pcdn:stats`: a browser's summary of what it fetched. Self-reported, so bounded on the
 * way in: at most one report per MIN_STATS_GAP_MS per socket, and every figure
 * clamped to what the socket (and its address, shared by all of its sockets) could have
 * fetched since it opened at `statsBytesPerSecond` (and `statsBytesPerSecondPerIp`): a
 * token bucket that starts empty when the socket opens and holds at most
 * STATS_BURST_S of the rate (connection attempts likewise, from STATS_CONNECTIONS_AT_OPEN).
 * A report over budget is scaled down as a whole, so its
 * ratios stand. No flood, however fast or wide, adds more than the budgets allow.
 */
import { BYTE_SOURCES, HTTP_REASONS, MIN_STATS_GAP_MS } from '../../../protocol/src/index.js'
import type { StatsReport } from '../../../protocol/src/index.js'
import { refill } from '../budget.js'
import type { Connection } from '../connection.js'
import { MAX_FLEET_NAME_CHARS, totalBytes } from '../fleet-stats.js'
import { Refusal } from '../refusal.js'
import { STATS_BURST_S, STATS_CONNECTIONS_PER_SECOND } from '../stats-budgets.js'
import type { TrackerContext } from './context.js'

/** Take one report into the fleet's figures, clamped; throws a Refusal when it comes too soon. */
export function handleStats(ctx: TrackerContext, conn: Connection, msg: StatsReport): void {
  const now = ctx.now()
  const { statsBytesPerSecond, statsBytesPerSecondPerIp } = ctx.config
  const own = ctx.statsBudgets.socket(conn, now)
  if (now - own.lastReportMs < MIN_STATS_GAP_MS)
    throw new Refusal('stats-too-often', `stats report refused: at most one per ${MIN_STATS_GAP_MS} ms`)
  own.lastReportMs = now
  const shared = ctx.statsBudgets.address(conn, now)
  refill(own.bytes, now, statsBytesPerSecond, statsBytesPerSecond * STATS_BURST_S)
  refill(shared, now, statsBytesPerSecondPerIp, statsBytesPerSecondPerIp * STATS_BURST_S)
  refill(own.connections, now, STATS_CONNECTIONS_PER_SECOND, STATS_CONNECTIONS_PER_SECOND * STATS_BURST_S)
  const claimed = totalBytes(msg.bytes)
  const allowed = Math.max(0, Math.min(own.bytes.level, shared.level))
  const factor = claimed <= allowed ? 1 : allowed / claimed
  const report = factor === 1 ? msg : scaled(msg, factor)
  const taken = totalBytes(report.bytes)
  own.bytes.level -= taken
  shared.level -= taken
  const attempted = Math.min(msg.connections.attempted, Math.floor(Math.max(0, own.connections.level)))
  if (attempted < msg.connections.attempted)
    report.connections = { attempted, failed: Math.min(msg.connections.failed, attempted) }
  own.connections.level -= attempted
  const clamped = factor < 1 || attempted < msg.connections.attempted
  ctx.fleet.add(report, regionOf(conn, msg), clamped)
  if (clamped)
    // Debug: a hostile client must not be able to flood the log.
    ctx.log.server.debug('stats-clamped', { conn: conn.id, ip: conn.ip, claimedBytes: claimed, takenBytes: taken })
}

/** Where the tracker places the visitor: its own mapping first, then what the socket announced or reported. */
function regionOf(conn: Connection, msg: StatsReport): string {
  return (conn.mappedRegion ?? conn.region ?? msg.region ?? 'unknown').slice(0, MAX_FLEET_NAME_CHARS)
}

/** Every figure times `factor` (< 1), rounded down: sums stay within their totals. */
function scaled(msg: StatsReport, factor: number): StatsReport {
  const f = (n: number): number => Math.floor(n * factor)
  const bytes = { ...msg.bytes }
  for (const s of BYTE_SOURCES) bytes[s] = f(bytes[s])
  const http = { ...msg.http }
  for (const r of HTTP_REASONS) http[r] = f(http[r])
  return {
    ...msg,
    bytes,
    http,
    connections: { ...msg.connections },
    resources: msg.resources.map(r => {
      const b = { ...r.bytes }
      for (const s of BYTE_SOURCES) b[s] = f(b[s])
      return { url: r.url, bytes: b }
    })
  }
}
