export interface RankedEdge {
  url: string
  region: string
  /** Round-trip time of the ping, in milliseconds. */
  rttMs: number
}

/**
 * The edges in order of preference (fastest ping first). An edge that fails is set aside
 * for `retryMs` so that every chunk does not pay its timeout again; when every edge is
 * set aside, the origin is next.
 */
export class EdgeSet {
  readonly #downUntil = new Map<string, number>()

  constructor(
    readonly edges: RankedEdge[],
    readonly retryMs: number,
    readonly now: () => number = Date.now
  ) {}

  /** Edges to try now, best first. */
  usable(): RankedEdge[] {
    const now = this.now()
    return this.edges.filter(e => (this.#downUntil.get(e.url) ?? 0) <= now)
  }

  /** The edge a fetch would use first. */
  get chosen(): RankedEdge | undefined {
    return this.usable()[0]
  }

  failed(url: string): void {
    this.#downUntil.set(url, this.now() + this.retryMs)
  }

  succeeded(url: string): void {
    this.#downUntil.delete(url)
  }
}
