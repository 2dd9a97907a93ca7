/**
 * Counters behind `Edge.stats()` and `GET /metrics`. The hot path bumps plain numbers;
 * prom-client reads them only when scraped, so a hit costs no label lookup.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

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
  const registry = new Registry()
  const counterFrom = (name: string, help: string, read: () => number): void => {
    let reported = 0
    // prom-client counters only go up: add what happened since the last scrape.
    const c: Counter = new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read()
        c.inc(now - reported)
        reported = now
      }
    })
  }
  const gaugeFrom = (name: string, help: string, read: () => number): void => {
    const g: Gauge = new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        g.set(read())
      }
    })
  }
  counterFrom('p2pcdn_edge_cache_hits_total', 'Requests answered from a fresh cache entry', () => counters.hits)
  counterFrom('p2pcdn_edge_cache_misses_total', 'Requests that needed the origin', () => counters.misses)
  counterFrom(
    'p2pcdn_edge_cache_stale_total',
    'Stale copies served (stale-while-revalidate, stale-if-error)',
    () => counters.stale
  )
  counterFrom(
    'p2pcdn_edge_revalidations_total',
    'Conditional requests sent to the origin',
    () => counters.revalidations
  )
  counterFrom('p2pcdn_edge_origin_requests_total', 'Requests sent to the origin', () => counters.originRequests)
  counterFrom('p2pcdn_edge_bytes_served_total', 'Response body bytes sent to clients', () => counters.bytesServed)
  gaugeFrom('p2pcdn_edge_connections', 'Open client connections', sources.connections)
  gaugeFrom('p2pcdn_edge_cache_memory_bytes', 'Body bytes held in memory', sources.memoryBytes)
  gaugeFrom('p2pcdn_edge_cache_disk_bytes', 'Body bytes held on disk', sources.diskBytes)
  gaugeFrom('p2pcdn_edge_cache_entries', 'Cached variants known', sources.entries)
  const latency = new Histogram({
    name: 'p2pcdn_edge_origin_latency_seconds',
    help: 'Time from sending a request to the origin to its response head',
    labelNames: ['status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry]
  })

  return {
    counters,
    observeOrigin(status, seconds) {
      latency.observe({ status: status === 'error' ? 'error' : `${Math.floor(status / 100)}xx` }, seconds)
    },
    render: async () => await registry.metrics(),
    get contentType() {
      return registry.contentType
    }
  }
}
