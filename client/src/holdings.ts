import { bitfieldOf, chunkBounds, type Manifest } from '../../protocol/src/index.js'
import type { ChunkStore, ResourceRecord } from './storage/chunk-store.js'

interface Holding {
  manifest: Manifest
  have: Set<number>
  lastUsed: number
}

const PERSIST_DELAY_MS = 250

/**
 * Which verified chunks of which resources this page holds: the in-memory index over
 * the chunk store, written back to it shortly after each change.
 */
export class Holdings {
  readonly #store: ChunkStore
  readonly #byId = new Map<string, Holding>()
  readonly #dirty = new Set<string>()
  #persistTimer: ReturnType<typeof setTimeout> | undefined

  constructor(store: ChunkStore, records: ResourceRecord[]) {
    this.#store = store
    for (const r of records) this.#byId.set(r.id, { manifest: r.manifest, have: new Set(r.have), lastUsed: r.lastUsed })
  }

  /** Bytes of all held chunks. */
  get bytes(): number {
    let total = 0
    for (const h of this.#byId.values()) total += heldBytes(h)
    return total
  }

  has(id: string, index: number): boolean {
    return this.#byId.get(id)?.have.has(index) ?? false
  }

  /** True when some version of `url` has a chunk here (its resource id needs its manifest). */
  holdsUrl(url: string): boolean {
    for (const h of this.#byId.values()) if (h.have.size > 0 && h.manifest.url === url) return true
    return false
  }

  /** How many chunks of `id` are held. */
  count(id: string): number {
    return this.#byId.get(id)?.have.size ?? 0
  }

  /** Start tracking `id` (no chunks yet) and mark it used now. */
  touch(id: string, manifest: Manifest): void {
    const h = this.#byId.get(id)
    if (h === undefined) this.#byId.set(id, { manifest, have: new Set(), lastUsed: Date.now() })
    else h.lastUsed = Date.now()
    this.#schedulePersist(id)
  }

  /** Record a verified chunk already written to the store. */
  add(id: string, index: number): void {
    const h = this.#byId.get(id)
    if (h === undefined) return
    h.have.add(index)
    this.#schedulePersist(id)
  }

  manifest(id: string): Manifest | undefined {
    return this.#byId.get(id)?.manifest
  }

  bitfield(id: string): { resourceId: string; chunkCount: number; bitfield: Uint8Array } | undefined {
    const h = this.#byId.get(id)
    if (h === undefined || h.have.size === 0) return undefined
    return {
      resourceId: id,
      chunkCount: h.manifest.chunks.length,
      bitfield: bitfieldOf(h.manifest.chunks.length, h.have)
    }
  }

  all(): Array<{ resourceId: string; chunkCount: number; bitfield: Uint8Array }> {
    return [...this.#byId.keys()].map(id => this.bitfield(id)).filter(b => b !== undefined)
  }

  /**
   * Make room for `incoming` more bytes under `limitBytes` by dropping whole resources,
   * least recently used first, never one in `keep`. Removes them from the store too.
   * Returns the ids dropped and whether the incoming bytes now fit.
   */
  async evict(
    limitBytes: number,
    incoming: number,
    keep: Set<string>
  ): Promise<{ dropped: Array<{ id: string; chunkCount: number }>; fits: boolean }> {
    let total = this.bytes
    const dropped: Array<{ id: string; chunkCount: number }> = []
    const candidates = [...this.#byId]
      .filter(([id, h]) => !keep.has(id) && h.have.size > 0)
      .sort((a, b) => a[1].lastUsed - b[1].lastUsed)
    for (const [id, h] of candidates) {
      if (total + incoming <= limitBytes) break
      total -= heldBytes(h)
      dropped.push(await this.#remove(id, h))
    }
    return { dropped, fits: total + incoming <= limitBytes }
  }

  /** Drop every held version of `url` but those in `keep`, from the store too. */
  async drop(url: string, keep: Set<string>): Promise<Array<{ id: string; chunkCount: number }>> {
    const dropped: Array<{ id: string; chunkCount: number }> = []
    for (const [id, h] of [...this.#byId])
      if (h.manifest.url === url && !keep.has(id) && h.have.size > 0) dropped.push(await this.#remove(id, h))
    return dropped
  }

  async #remove(id: string, h: Holding): Promise<{ id: string; chunkCount: number }> {
    const indices = [...h.have]
    this.#byId.delete(id)
    this.#dirty.delete(id)
    await this.#store.deleteResource(id, indices)
    return { id, chunkCount: h.manifest.chunks.length }
  }

  /** Write pending index changes now (used at teardown). */
  async flush(): Promise<void> {
    clearTimeout(this.#persistTimer)
    this.#persistTimer = undefined
    const ids = [...this.#dirty]
    this.#dirty.clear()
    await Promise.all(
      ids.map(async id => {
        const h = this.#byId.get(id)
        if (h !== undefined)
          await this.#store.putResource({ id, manifest: h.manifest, have: [...h.have], lastUsed: h.lastUsed })
      })
    )
  }

  #schedulePersist(id: string): void {
    this.#dirty.add(id)
    this.#persistTimer ??= setTimeout(() => {
      void this.flush().catch(() => {})
    }, PERSIST_DELAY_MS)
  }
}

function heldBytes(h: Holding): number {
  let total = 0
  for (const i of h.have) {
    const { start, end } = chunkBounds(h.manifest, i)
    total += end - start
  }
  return total
}
