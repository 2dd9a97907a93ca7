/**
 * In-memory LRU store bounded by bytes and by entries; `peek` is synchronous for the hit
 * path. An entry is charged its body plus an estimate of what its metadata costs in the
 * heap, so a flood of tiny entries is bounded as well as a few large ones, and the
 * store shares its byte limit with fills in flight (`MemoryBudget`).
 */
import type { MemoryBudget } from '../memory-budget.js'
import type { CacheEntry, CacheStore } from './store.js'
import { entryId } from './store.js'

/**
 * Fixed heap cost of one entry besides its body and headers: the entry object, its
 * Map slots in this store and in the cache's key index, the serialized hit head
 * (`handlers/entry.ts`) kept beside it. Measured order of magnitude, rounded up.
 */
export const ENTRY_OVERHEAD_BYTES = 2048
/**
 * Bodies this small are also kept copied behind their hit head (`handlers/entry.ts`), so
 * a hit is one write; they are charged twice.
 */
export const HIT_COPY_MAX_BYTES = 16 * 1024
/** V8 keeps a manifest's chunk hash as a 43-character string in an array slot. */
const MANIFEST_CHUNK_BYTES = 72

/** Bytes an entry is charged: body, metadata, and its share of the fixed overhead. */
export function entryCost(entry: CacheEntry): number {
  let meta = ENTRY_OVERHEAD_BYTES + entry.key.length + entry.variant.length
  for (const [name, value] of Object.entries(entry.headers)) {
    // Headers are counted twice: as stored, and inside the serialized hit head.
    meta +=
      2 * (name.length + (Array.isArray(value) ? value.reduce((n, v) => n + v.length + 16, 0) : value.length + 16))
  }
  if (entry.manifest !== undefined)
    meta += entry.manifest.chunks.length * MANIFEST_CHUNK_BYTES + entry.manifest.url.length
  return entry.body.length + meta + (entry.body.length <= HIT_COPY_MAX_BYTES ? entry.body.length : 0)
}

export interface MemoryStoreInit {
  /** Shared byte limit: this store may use what fills in flight do not. */
  budget: MemoryBudget
  /** Most entries kept. */
  maxEntries: number
  /** Called for each entry dropped to make room (not for `delete`). */
  onEvict?: (id: string) => void
}

export interface MemoryStore extends CacheStore {
  /** The entry, marked as recently used; no promise, so a hit costs no extra tick. */
  peek: (id: string) => CacheEntry | undefined
  has: (id: string) => boolean
  /** Bytes charged for what is held (bodies and metadata). */
  readonly bytes: number
  readonly size: number
  shrinkTo: (bytes: number) => void
}

export function createMemoryStore(init: MemoryStoreInit): MemoryStore {
  const { budget } = init
  // A Map iterates in insertion order, so re-inserting on use keeps the LRU order.
  const entries = new Map<string, { entry: CacheEntry; cost: number }>()
  let bytes = 0

  const remove = (id: string): boolean => {
    const old = entries.get(id)
    if (old === undefined) return false
    entries.delete(id)
    bytes -= old.cost
    return true
  }
  const shrinkTo = (limit: number, count = init.maxEntries): void => {
    for (const [old] of entries) {
      if (bytes <= limit && entries.size <= count) break
      remove(old)
      init.onEvict?.(old)
    }
  }
  const peek = (id: string): CacheEntry | undefined => {
    const held = entries.get(id)
    if (held === undefined) return undefined
    entries.delete(id)
    entries.set(id, held)
    return held.entry
  }

  const store: MemoryStore = {
    get bytes() {
      return bytes
    },
    get size() {
      return entries.size
    },
    peek,
    has: id => entries.has(id),
    shrinkTo: limit => shrinkTo(limit),
    async get(id) {
      return peek(id)
    },
    async put(entry) {
      const id = entryId(entry.key, entry.variant)
      remove(id)
      const cost = entryCost(entry)
      if (cost > budget.storeRoom) {
        init.onEvict?.(id)
        return
      }
      shrinkTo(budget.storeRoom - cost, init.maxEntries - 1)
      entries.set(id, { entry, cost })
      bytes += cost
    },
    async delete(id) {
      remove(id)
    },
    async close() {
      entries.clear()
      bytes = 0
    }
  }
  budget.attach(store)
  return store
}
