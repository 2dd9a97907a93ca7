/**
 * Registered edges and their last reported load. Like swarm.ts it knows nothing about
 * sockets: each edge is keyed by an opaque `handle` (its connection).
 */
import type { EdgeInfo, EdgeLoad } from '../../protocol/src/index.js'

/** An edge as the registry keeps it. */
export interface EdgeRecord extends EdgeInfo {
  /** The edge's id from the edges file; undefined for an edge of the shared token. */
  id: string | undefined
  /** When the edge last registered or reported load, from `Date.now()`. */
  lastSeenMs: number
}

/** What a registration claims: an id (or none, with the shared token) and a URL. */
export interface EdgeClaim {
  id: string | undefined
  url: string
}

/**
 * Edges by connection, with expiry of those that stop reporting load. A URL, and an id up
 * to `maxPerId` times, belongs to the first live connection that claimed it: a second
 * connection is refused, never let in by evicting the first.
 */
export class EdgeRegistry<H> {
  private readonly edges = new Map<H, EdgeRecord>()
  /** Registrations being checked (the reachability challenge); they hold their claim. */
  private readonly pending = new Map<H, EdgeClaim>()
  /** Edges silent for longer than this are not listed and get swept. */
  private readonly maxSilenceMs: number
  private readonly maxPerId: number

  constructor(maxSilenceMs: number, maxPerId = 1) {
    this.maxSilenceMs = maxSilenceMs
    this.maxPerId = maxPerId
  }

  get size(): number {
    return this.edges.size
  }

  has(handle: H): boolean {
    return this.edges.has(handle)
  }

  /** Whether `handle` has a registration being checked. */
  isPending(handle: H): boolean {
    return this.pending.has(handle)
  }

  /**
   * Reserve `claim` for `handle` while it is checked. Returns why not when another live
   * (or pending) connection holds the URL, or `maxPerId` connections the id. An entry past
   * its silence no longer counts: it is dropped here, as the next sweep would.
   */
  claim(handle: H, claim: EdgeClaim, nowMs: number): string | undefined {
    let sameId = 0
    for (const [other, record] of this.edges) {
      if (other === handle) continue
      if (!this.isHealthy(record, nowMs)) {
        if (record.url === claim.url || (claim.id !== undefined && record.id === claim.id)) this.edges.delete(other)
        continue
      }
      if (record.url === claim.url) return `${claim.url} is already registered by a live edge on another connection`
      if (claim.id !== undefined && record.id === claim.id) sameId++
    }
    for (const [other, held] of this.pending) {
      if (other === handle) continue
      if (held.url === claim.url) return `${claim.url} is being registered on another connection`
      if (claim.id !== undefined && held.id === claim.id) sameId++
    }
    if (claim.id !== undefined && sameId >= this.maxPerId) {
      return `edge "${claim.id}" is already registered on ${sameId === 1 ? 'another connection' : `${sameId} other connections`}`
    }
    this.pending.set(handle, claim)
    return undefined
  }

  /** Forget the claim of a registration that failed its check. */
  release(handle: H): void {
    this.pending.delete(handle)
  }

  /**
   * Register (or re-register) the edge behind `handle`, which must hold a claim for the
   * same id and URL (from `claim`). False when it does not: its socket closed meanwhile.
   */
  register(
    handle: H,
    edge: { id: string | undefined; url: string; region: string; capacity: number },
    nowMs: number
  ): boolean {
    const held = this.pending.get(handle)
    if (held === undefined || held.id !== edge.id || held.url !== edge.url) return false
    this.pending.delete(handle)
    const previous = this.edges.get(handle)
    this.edges.set(handle, {
      id: edge.id,
      url: edge.url,
      region: edge.region,
      capacity: edge.capacity,
      connections: previous?.connections ?? 0,
      bytesPerSec: previous?.bytesPerSec ?? 0,
      hitRatio: previous?.hitRatio ?? 0,
      lastSeenMs: nowMs
    })
    return true
  }

  /**
   * Record a load report; false when `handle` is not a registered edge. An edge already
   * past its silence is dropped here, as the next sweep would: a late heartbeat does not
   * revive an edge that clients have stopped being given.
   */
  reportLoad(handle: H, load: EdgeLoad, nowMs: number): boolean {
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

  /** The connection is gone: its edge and any claim it held. */
  remove(handle: H): EdgeRecord | undefined {
    const record = this.edges.get(handle)
    this.edges.delete(handle)
    this.pending.delete(handle)
    return record
  }

  /** Drop edges that went quiet; returns what was dropped. */
  sweep(nowMs: number): EdgeRecord[] {
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
  list(region: string | undefined, nowMs: number, neighbours: readonly string[] = []): EdgeInfo[] {
    return orderEdges(
      [...this.edges.values()].filter(record => this.isHealthy(record, nowMs)).map(toEdgeInfo),
      region,
      neighbours
    )
  }

  /** The edge registered on `handle`, as clients see it. */
  get(handle: H): EdgeInfo | undefined {
    const record = this.edges.get(handle)
    return record === undefined ? undefined : toEdgeInfo(record)
  }

  private isHealthy(record: EdgeRecord, nowMs: number): boolean {
    return nowMs - record.lastSeenMs <= this.maxSilenceMs
  }
}

/**
 * Share of its capacity an edge is using. An edge that did not say what it can serve
 * (capacity 0) gives no headroom figure, so it sorts after every edge that did.
 */
function utilisation(edge: EdgeInfo): number {
  return edge.capacity > 0 ? edge.bytesPerSec / edge.capacity : Number.POSITIVE_INFINITY
}

function toEdgeInfo({ url, region, capacity, connections, bytesPerSec, hitRatio }: EdgeInfo): EdgeInfo {
  return { url, region, capacity, connections, bytesPerSec, hitRatio }
}

/**
 * Edges in the order clients should try them: `region` first, then its `neighbours` in
 * order, then the rest; within each, least loaded first.
 */
export function orderEdges(edges: EdgeInfo[], region: string | undefined, neighbours: readonly string[]): EdgeInfo[] {
  const rank = (edge: EdgeInfo): number => {
    if (edge.region === region) return 0
    const i = neighbours.indexOf(edge.region)
    return i === -1 ? neighbours.length + 1 : i + 1
  }
  return edges.sort((a, b) => rank(a) - rank(b) || compareEdges(a, b))
}

/** A total order (so `sort` is stable and predictable): utilisation, connections, url. */
function compareEdges(a: EdgeInfo, b: EdgeInfo): number {
  const loadA = utilisation(a)
  const loadB = utilisation(b)
  if (loadA !== loadB) return loadA < loadB ? -1 : 1
  if (a.connections !== b.connections) return a.connections - b.connections
  return a.url < b.url ? -1 : a.url > b.url ? 1 : 0
}
