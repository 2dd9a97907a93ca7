import {
  BYTE_SOURCES,
  emptyReasonBytes,
  emptySourceBytes,
  MAX_STATS_RESOURCES,
  MAX_STATS_URL_CHARS,
  MAX_STATS_NAME_CHARS,
  PROTOCOL_VERSION,
  type ByteSource,
  type HttpReason,
  type SourceBytes,
  type StatsReport
} from '../../protocol/src/index.js'

/** Distinct URLs counted apart between two reports; beyond, bytes go to the totals only ("other"). */
const MAX_TRACKED_URLS = 256

/**
 * What the page fetched since its last report to the tracker (`p2pcdn:stats`): bytes by
 * source, HTTP bytes by why they were not a peer's, the biggest resources, WebRTC
 * connection attempts. `take()` empties it once a report goes out; until the socket is
 * open the figures keep adding up.
 */
export class StatsReporter {
  #bytes = emptySourceBytes()
  #http = emptyReasonBytes()
  #urls = new Map<string, SourceBytes>()
  #attempted = 0
  #failed = 0

  /** Bytes of `url` from `source`; edge and origin bytes say why (`reason`). */
  count(url: string, source: ByteSource, bytes: number, reason: HttpReason | undefined): void {
    this.#bytes[source] += bytes
    if (reason !== undefined && (source === 'edge' || source === 'origin')) this.#http[reason] += bytes
    const key = reportedUrl(url)
    let row = this.#urls.get(key)
    if (row === undefined) {
      if (this.#urls.size >= MAX_TRACKED_URLS) return
      this.#urls.set(key, (row = emptySourceBytes()))
    }
    row[source] += bytes
  }

  /** A WebRTC connection attempt settled. */
  connection(connected: boolean): void {
    this.#attempted++
    if (!connected) this.#failed++
  }

  /** The report of everything since the last one, and start over; undefined when there is nothing to say. */
  take(swarm: string | undefined, region: string | undefined): StatsReport | undefined {
    const total = BYTE_SOURCES.reduce((n, s) => n + this.#bytes[s], 0)
    if (total === 0 && this.#attempted === 0) return undefined
    const size = (b: SourceBytes): number => b.cache + b.peer + b.edge + b.origin
    const resources = [...this.#urls]
      .sort((a, b) => size(b[1]) - size(a[1]))
      .slice(0, MAX_STATS_RESOURCES)
      .map(([url, bytes]) => ({ url, bytes }))
    const report: StatsReport = {
      action: 'p2pcdn:stats',
      v: PROTOCOL_VERSION,
      bytes: this.#bytes,
      http: this.#http,
      connections: { attempted: this.#attempted, failed: this.#failed },
      resources
    }
    if (swarm !== undefined) report.swarm = swarm.slice(0, MAX_STATS_NAME_CHARS)
    if (region !== undefined) report.region = region.slice(0, MAX_STATS_NAME_CHARS)
    this.#bytes = emptySourceBytes()
    this.#http = emptyReasonBytes()
    this.#urls = new Map()
    this.#attempted = 0
    this.#failed = 0
    return report
  }
}

/**
 * A URL as reported: without query and fragment (signed URLs carry secrets there, and
 * each one would be a resource of its own), cut to MAX_STATS_URL_CHARS.
 */
export function reportedUrl(url: string): string {
  const cut = url.search(/[?#]/)
  const bare = cut === -1 ? url : url.slice(0, cut)
  return bare.length <= MAX_STATS_URL_CHARS ? bare : `${bare.slice(0, MAX_STATS_URL_CHARS - 1)}…`
}
