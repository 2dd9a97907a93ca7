/**
 * Registered edges and their last reported load. Like swarm.ts it knows nothing about
 * sockets: each edge is keyed by an opaque `handle` (its connection).
 */
import type { EdgeInfo } from '../../protocol/src/index.js'

/** An edge as the registry keeps it. */
export interface EdgeRecord extends EdgeInfo {
  /** When the edge last registered or reported load, from `Date.now()`. */
  lastSeenMs: number
}

/** What `p2pcdn:edge-load` reports. */
export interface EdgeLoad {
  connections: number
  bytesPerSec: number
  hitRatio: number
}

/** Edges by connection, with expiry of those that stop reporting load. */
export class EdgeRegistry<H> {
  private readonly edges = new Map<H, EdgeRecord>()
  /** Edges silent for longer than this are not listed and get swept. */
  private readonly maxSilenceMs: number

  constructor (maxSilenceMs: number) {
    this.maxSilenceMs = maxSilenceMs
  }

  get size (): number {
    return this.edges.size
  }

  has (handle: H): boolean {
    return this.edges.has(handle)
  }

  /**
   * Register (or re-register) the edge behind `handle`. An older registration of the same
   * URL on another connection is replaced: that is the same edge after a restart.
   */
  register (handle: H, edge: { url: string, region: string, capacity: number }, nowMs: number): void {
    for (const [other, record] of this.edges) {
      if (other !== handle && record.url === edge.url) this.edges.delete(other)
    }
    const previous = this.edges.get(handle)
    this.edges.set(handle, {
      url: edge.url,
      region: edge.region,
      capacity: edge.capacity,
      connections: previous?.connections ?? 0,
      bytesPerSec: previous?.bytesPerSec ?? 0,
      hitRatio: previous?.hitRatio ?? 0,
      lastSeenMs: nowMs
    })
  }

  /**
   * Record a load report; false when `handle` is not a registered edge. An edge already
   * past its silence is dropped here, as the next sweep would: a late heartbeat does not
   * revive an edge that clients have stopped being given.
   */
  reportLoad (handle: H, load: EdgeLoad, nowMs: number): boolean {
    const record = this.edges.get(handle)
    if (record === undefined) return false
    if (!this.isHealthy(record, nowMs)) {
      this.edges.delete(handle)
      return false
    }
    record.connections = load.connections
    record.bytesPerSec = load.bytesPerSec
    record.hitRatio = load.hitRatio
    record.lastSeenMs = nowMs
    return true
  }

  remove (handle: H): EdgeRecord | undefined {
    const record = this.edges.get(handle)
    this.edges.delete(handle)
    return record
  }

  /** Drop edges that went quiet; returns what was dropped. */
  sweep (nowMs: number): EdgeRecord[] {
    const dropped: EdgeRecord[] = []
    for (const [handle, record] of this.edges) {
      if (!this.isHealthy(record, nowMs)) {
        this.edges.delete(handle)
        dropped.push(record)
      }
    }
    return dropped
  }

  /**
   * Healthy edges, those in `region` first, then least loaded first. Regions are plain
   * names with no geography, so "nearest" can only mean "same region".
   */
  list (region: string | undefined, nowMs: number, neighbours: readonly string[] = []): EdgeInfo[] {
    return orderEdges([...this.edges.values()]
      .filter(record => this.isHealthy(record, nowMs))
      .map(toEdgeInfo), region, neighbours)
  }

  /** The edge registered on `handle`, as clients see it. */
  get (handle: H): EdgeInfo | undefined {
    const record = this.edges.get(handle)
    return record === undefined ? undefined : toEdgeInfo(record)
  }

  private isHealthy (record: EdgeRecord, nowMs: number): boolean {
    return nowMs - record.lastSeenMs <= this.maxSilenceMs
  }
}

/**
 * Share of its capacity an edge is using. An edge that did not say what it can serve
 * (capacity 0) gives no headroom figure, so it sorts after every edge that did.
 */
function utilisation (edge: EdgeInfo): number {
  return edge.capacity > 0 ? edge.bytesPerSec / edge.capacity : Number.POSITIVE_INFINITY
}

function toEdgeInfo ({ url, region, capacity, connections, bytesPerSec, hitRatio }: EdgeInfo): EdgeInfo {
  return { url, region, capacity, connections, bytesPerSec, hitRatio }
}

/**
 * Edges in the order clients should try them: `region` first, then its `neighbours` in
 * order, then the rest; within each, least loaded first.
 */
export function orderEdges (edges: EdgeInfo[], region: string | undefined, neighbours: readonly string[]): EdgeInfo[] {
  const rank = (edge: EdgeInfo): number => {
    if (edge.region === region) return 0
    const i = neighbours.indexOf(edge.region)
    return i === -1 ? neighbours.length + 1 : i + 1
  }
  return edges.sort((a, b) => rank(a) - rank(b) || compareEdges(a, b))
}

/** A total order (so `sort` is stable and predictable): utilisation, connections, url. */
function compareEdges (a: EdgeInfo, b: EdgeInfo): number {
  const loadA = utilisation(a)
  const loadB = utilisation(b)
  if (loadA !== loadB) return loadA < loadB ? -1 : 1
  if (a.connections !== b.connections) return a.connections - b.connections
  return a.url < b.url ? -1 : a.url > b.url ? 1 : 0
}
