/** In-memory LRU store bounded by body bytes; `peek` is synchronous for the hit path. */
import type { CacheEntry, CacheStore } from './store.js'
import { entryId } from './store.js'

export interface MemoryStoreInit {
  /** Total body bytes to keep; least recently used entries go first. */
  maxBytes: number
}

export interface MemoryStore extends CacheStore {
  /** The entry, marked as recently used; no promise, so a hit costs no extra tick. */
  peek: (id: string) => CacheEntry | undefined
  readonly bytes: number
  readonly size: number
}

export function createMemoryStore (init: MemoryStoreInit): MemoryStore {
  // A Map iterates in insertion order, so re-inserting on use keeps the LRU order.
  const entries = new Map<string, CacheEntry>()
  let bytes = 0

  const remove = (id: string): void => {
    const old = entries.get(id)
    if (old === undefined) return
    entries.delete(id)
    bytes -= old.body.length
  }
  const peek = (id: string): CacheEntry | undefined => {
    const entry = entries.get(id)
    if (entry !== undefined) {
      entries.delete(id)
      entries.set(id, entry)
    }
    return entry
  }

  return {
    get bytes () { return bytes },
    get size () { return entries.size },
    peek,
    async get (id) { return peek(id) },
    async put (entry) {
      const id = entryId(entry.key, entry.variant)
      remove(id)
      if (entry.body.length > init.maxBytes) return
      entries.set(id, entry)
      bytes += entry.body.length
      for (const [old] of entries) {
        if (bytes <= init.maxBytes) break
        remove(old)
      }
    },
    async delete (id) {
      remove(id)
    },
    async close () {
      entries.clear()
      bytes = 0
    }
  }
}
