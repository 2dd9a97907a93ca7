/** The tracker's counters, kept as plain numbers as service/src/metrics.ts says. */
import { ScrapeMetrics } from '../../service/src/metrics.js'
import { BYTE_SOURCES, HTTP_REASONS } from '../../protocol/src/index.js'
import type { FleetStats } from './fleet-stats.js'
import type { RefusalReason } from './refusal.js'

/** Running totals since the tracker started. */
export class TrackerMetrics {
  announces = 0
  offersRelayed = 0
  answersRelayed = 0
  signalsDropped = 0
  readonly rejects = new Map<RefusalReason, number>()

  reject(reason: RefusalReason): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + 1)
  }
}

/** Live values read at scrape time. */
export interface MetricsSources {
  metrics: TrackerMetrics
  sockets: () => number
  /** Unsent bytes held for sockets that read slower than they are written to. */
  backlogBytes: () => number
  peers: () => number
  swarms: () => number
  edges: () => number
  /** GeoIP lookups that hit a record the database could not decode. */
  geoipErrors: () => number
  /** What this process's visitors reported. */
  fleet: FleetStats
}

/** The tracker's series, read from `src` at each scrape. */
export function createTrackerMetrics(src: MetricsSources): ScrapeMetrics {
  const m = new ScrapeMetrics()
  m.gauge('p2pcdn_tracker_sockets', 'Open WebSockets (peers and edges)', src.sockets)
  m.gauge(
    'p2pcdn_tracker_backlog_bytes',
    'Unsent bytes held for sockets over their write buffer (maxBufferedBytesTotal caps it)',
    src.backlogBytes
  )
  m.gauge('p2pcdn_tracker_peers', 'Peers across all swarms of this process', src.peers)
  m.gauge('p2pcdn_tracker_swarms', 'Swarms with at least one peer in this process', src.swarms)
  m.gauge('p2pcdn_tracker_edges', 'Healthy registered edges', src.edges)
  m.counter('p2pcdn_tracker_announces_total', 'Announces handled (answers excluded)', () => src.metrics.announces)
  m.counter('p2pcdn_tracker_offers_relayed_total', 'Offers forwarded to another peer', () => src.metrics.offersRelayed)
  m.counter(
    'p2pcdn_tracker_answers_relayed_total',
    'Answers relayed back to the offering peer',
    () => src.metrics.answersRelayed
  )
  m.counter(
    'p2pcdn_tracker_signals_dropped_total',
    'Offers or answers for peers that are gone',
    () => src.metrics.signalsDropped
  )
  m.counter(
    'p2pcdn_tracker_geoip_errors_total',
    'Client addresses left without a GeoIP place because their database record would not decode',
    src.geoipErrors
  )
  m.labelledCounter(
    'p2pcdn_tracker_rejects_total',
    'Requests refused or connections closed, by reason',
    'reason',
    () => src.metrics.rejects
  )
  fleetMetrics(m, src.fleet)
  return m
}

/**
 * The fleet figures this process took (Prometheus sums the processes). Labels stay few:
 * source (4), reason (7), region (at most MAX_FLEET_REGIONS + 1); never a URL or a swarm.
 */
function fleetMetrics(m: ScrapeMetrics, fleet: FleetStats): void {
  const t = fleet.totals
  m.labelledCounter(
    'p2pcdn_fleet_bytes_total',
    'Content bytes browsers reported fetching, by source (self-reported, clamped)',
    'source',
    () => BYTE_SOURCES.map(s => [s, t.bytes[s]] as const)
  )
  m.labelledCounter(
    'p2pcdn_fleet_http_bytes_total',
    'Edge and origin bytes browsers reported, by why they did not come from a peer',
    'reason',
    () => HTTP_REASONS.map(r => [r, t.http[r]] as const)
  )
  m.labelsCounter(
    'p2pcdn_fleet_region_bytes_total',
    'Content bytes browsers reported, by the region the tracker placed them in and source',
    ['region', 'source'],
    function* () {
      for (const [region, bytes] of fleet.regions.entries())
        for (const source of BYTE_SOURCES) yield [{ region, source }, bytes[source]] as const
    }
  )
  m.counter(
    'p2pcdn_fleet_webrtc_attempts_total',
    'WebRTC connections to peers browsers reported attempting',
    () => t.connections.attempted
  )
  m.counter(
    'p2pcdn_fleet_webrtc_failures_total',
    'WebRTC connection attempts browsers reported as never connected',
    () => t.connections.failed
  )
  m.counter('p2pcdn_fleet_reports_total', 'Stats reports taken from browsers', () => t.reports)
  m.counter(
    'p2pcdn_fleet_reports_clamped_total',
    'Stats reports scaled down to the per-socket or per-address budget',
    () => t.clamped
  )
}
