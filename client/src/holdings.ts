import { bitfieldOf, type Manifest } from '../../protocol/src/index.js'
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

  constructor (store: ChunkStore, records: ResourceRecord[]) {
    this.#store = store
    for (const r of records) this.#byId.set(r.id, { manifest: r.manifest, have: new Set(r.have), lastUsed: r.lastUsed })
  }

  has (id: string, index: number): boolean {
    return this.#byId.get(id)?.have.has(index) ?? false
  }

  /** Start tracking `id` (no chunks yet) and mark it used now. */
  touch (id: string, manifest: Manifest): void {
    const h = this.#byId.get(id)
    if (h === undefined) this.#byId.set(id, { manifest, have: new Set(), lastUsed: Date.now() })
    else h.lastUsed = Date.now()
    this.#schedulePersist(id)
  }

  /** Record a verified chunk already written to the store. */
  add (id: string, index: number): void {
    const h = this.#byId.get(id)
    if (h === undefined) return
    h.have.add(index)
    this.#schedulePersist(id)
  }

  manifest (id: string): Manifest | undefined {
    return this.#byId.get(id)?.manifest
  }

  bitfield (id: string): { resourceId: string, chunkCount: number, bitfield: Uint8Array } | undefined {
    const h = this.#byId.get(id)
    if (h === undefined || h.have.size === 0) return undefined
    return { resourceId: id, chunkCount: h.manifest.chunks.length, bitfield: bitfieldOf(h.manifest.chunks.length, h.have) }
  }

  all (): Array<{ resourceId: string, chunkCount: number, bitfield: Uint8Array }> {
    return [...this.#byId.keys()].map(id => this.bitfield(id)).filter(b => b !== undefined)
  }

  /** Write pending index changes now (used at teardown). */
  async flush (): Promise<void> {
    clearTimeout(this.#persistTimer)
    this.#persistTimer = undefined
    const ids = [...this.#dirty]
    this.#dirty.clear()
    await Promise.all(ids.map(async id => {
      const h = this.#byId.get(id)
      if (h !== undefined) await this.#store.putResource({ id, manifest: h.manifest, have: [...h.have], lastUsed: h.lastUsed })
    }))
  }

  #schedulePersist (id: string): void {
    this.#dirty.add(id)
    this.#persistTimer ??= setTimeout(() => { void this.flush().catch(() => {}) }, PERSIST_DELAY_MS)
  }
}
