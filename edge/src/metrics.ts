/** Counters behind `Edge.stats()` and `GET /metrics`, kept as service/src/metrics.ts says. */
import { Histogram } from 'prom-client'
import type { Registry } from 'prom-client'
import { ScrapeMetrics } from '../../service/src/metrics.js'

/** Counters behind `Edge.stats()`. */
export interface EdgeCounters {
  /** Content requests answered from a fresh cache entry without contacting the origin. */
  hits: number
  /** Content requests that needed the origin (fill, revalidation or pass-through). */
  misses: number
  /** Stale copies served (stale-while-revalidate or stale-if-error). */
  stale: number
  /** Revalidations sent to the origin (conditional requests). */
  revalidations: number
  /** Requests the edge sent to the origin. */
  originRequests: number
  /** Response body bytes sent to clients. */
  bytesServed: number
}

export interface EdgeMetrics {
  counters: EdgeCounters
  /** Record one origin response head (or failure) and how long it took. */
  observeOrigin: (status: number | 'error', seconds: number) => void
  /** Prometheus text exposition. */
  render: () => Promise<string>
  /** For prom-client's cluster aggregation. */
  readonly registry: Registry
  readonly contentType: string
}

export interface MetricsSources {
  connections: () => number
  memoryBytes: () => number
  diskBytes: () => number
  entries: () => number
}

export function createMetrics(sources: MetricsSources): EdgeMetrics {
  const counters: EdgeCounters = { hits: 0, misses: 0, stale: 0, revalidations: 0, originRequests: 0, bytesServed: 0 }
  const m = new ScrapeMetrics()
  m.counter('p2pcdn_edge_cache_hits_total', 'Requests answered from a fresh cache entry', () => counters.hits)
  m.counter('p2pcdn_edge_cache_misses_total', 'Requests that needed the origin', () => counters.misses)
  m.counter(
    'p2pcdn_edge_cache_stale_total',
    'Stale copies served (stale-while-revalidate, stale-if-error)',
    () => counters.stale
  )
  m.counter('p2pcdn_edge_revalidations_total', 'Conditional requests sent to the origin', () => counters.revalidations)
  m.counter('p2pcdn_edge_origin_requests_total', 'Requests sent to the origin', () => counters.originRequests)
  m.counter('p2pcdn_edge_bytes_served_total', 'Response body bytes sent to clients', () => counters.bytesServed)
  m.gauge('p2pcdn_edge_connections', 'Open client connections', sources.connections)
  m.gauge('p2pcdn_edge_cache_memory_bytes', 'Body bytes held in memory', sources.memoryBytes)
  // With --workers the disk is one folder every worker sees, and each knows about the same variants.
  m.gauge('p2pcdn_edge_cache_disk_bytes', 'Body bytes held on disk', sources.diskBytes, 'max')
  m.gauge('p2pcdn_edge_cache_entries', 'Cached variants known', sources.entries, 'max')
  const latency = new Histogram({
    name: 'p2pcdn_edge_origin_latency_seconds',
    help: 'Time from sending a request to the origin to its response head',
    labelNames: ['status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [m.registry]
  })

  return {
    counters,
    observeOrigin(status, seconds) {
      latency.observe({ status: status === 'error' ? 'error' : `${Math.floor(status / 100)}xx` }, seconds)
    },
    render: async () => await m.render(),
    registry: m.registry,
    get contentType() {
      return m.contentType
    }
  }
}
