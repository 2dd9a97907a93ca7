import { HaveTable, type HaveRefusal } from './have-table.js'

/** Resources one peer's FETCHING claims are kept for; the oldest claim goes first. */
export const FETCHING_RESOURCES = 64
/**
 * A FETCHING claim holds others back this long at most: an HTTP fetch of one segment
 * takes far less, and a peer that claims and never sends a HAVE (a liar, or one that
 * failed) must not keep a swarm waiting. Waiters stop sooner when their deadline comes.
 */
export const FETCHING_TTL_MS = 5000

/**
 * What one peer said it is fetching over HTTP now (FETCHING frames), bounded like its
 * HAVEs (see HaveTable: chunk counts checked against our manifests, claims for unknown
 * resources within a small budget), and by count and age.
 */
export class FetchingTable {
  readonly #claims: HaveTable
  /** When each claim came; insertion order is age. */
  readonly #at = new Map<string, number>()

  constructor(
    chunksOf: (resourceId: string) => number | undefined,
    readonly now: () => number = () => performance.now()
  ) {
    this.#claims = new HaveTable(chunksOf)
  }

  set(resourceId: string, chunkCount: number, bitfield: Uint8Array): HaveRefusal | undefined {
    const refused = this.#claims.set(resourceId, chunkCount, bitfield)
    if (refused !== undefined) return refused
    this.#at.delete(resourceId)
    this.#at.set(resourceId, this.now())
    for (const oldest of this.#at.keys()) {
      if (this.#at.size <= FETCHING_RESOURCES) break
      this.#at.delete(oldest)
      this.#claims.clear(oldest)
    }
    return undefined
  }

  has(resourceId: string, index: number): boolean {
    const at = this.#at.get(resourceId)
    return at !== undefined && this.now() - at < FETCHING_TTL_MS && this.#claims.has(resourceId, index)
  }

  /** Claims kept (expired ones included until pushed out). */
  get size(): number {
    return this.#at.size
  }
}
