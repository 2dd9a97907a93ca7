/**
 * Counters kept as plain numbers on the hot path and exposed through prom-client only
 * when `/metrics` is scraped: a labelled prom-client `inc()` per announce would cost more
 * than the announce itself.
 */
import { Counter, Gauge, Registry } from 'prom-client'
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
}

/** A registry of its own per tracker, so two trackers in one process do not share series. */
export function createMetricsRegistry(src: MetricsSources): Registry {
  const registry = new Registry()
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read())
      }
    })
  }
  const total = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset()
        this.inc(read())
      }
    })
  }
  gauge('p2pcdn_tracker_sockets', 'Open WebSockets (peers and edges)', src.sockets)
  gauge(
    'p2pcdn_tracker_backlog_bytes',
    'Unsent bytes held for sockets over their write buffer (maxBufferedBytesTotal caps it)',
    src.backlogBytes
  )
  gauge('p2pcdn_tracker_peers', 'Peers across all swarms of this process', src.peers)
  gauge('p2pcdn_tracker_swarms', 'Swarms with at least one peer in this process', src.swarms)
  gauge('p2pcdn_tracker_edges', 'Healthy registered edges', src.edges)
  total('p2pcdn_tracker_announces_total', 'Announces handled (answers excluded)', () => src.metrics.announces)
  total('p2pcdn_tracker_offers_relayed_total', 'Offers forwarded to another peer', () => src.metrics.offersRelayed)
  total(
    'p2pcdn_tracker_answers_relayed_total',
    'Answers relayed back to the offering peer',
    () => src.metrics.answersRelayed
  )
  total(
    'p2pcdn_tracker_signals_dropped_total',
    'Offers or answers for peers that are gone',
    () => src.metrics.signalsDropped
  )

  new Counter({
    name: 'p2pcdn_tracker_rejects_total',
    help: 'Requests refused or connections closed, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset()
      for (const [reason, n] of src.metrics.rejects) this.inc({ reason }, n)
    }
  })
  return registry
}
