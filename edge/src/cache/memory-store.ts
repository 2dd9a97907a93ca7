/** In-memory LRU store bounded by body bytes. */
import type { CacheEntry, CacheStore } from './store.js'

export interface MemoryStoreInit {
  /** Total body bytes to keep; least recently used entries go first. */
  maxBytes: number
}

export interface MemoryStore extends CacheStore {
  readonly bytes: number
  readonly size: number
}

export function createMemoryStore (init: MemoryStoreInit): MemoryStore {
  // A Map iterates in insertion order, so re-inserting on use keeps the LRU order.
  const entries = new Map<string, CacheEntry>()
  let bytes = 0

  const remove = (key: string): void => {
    const old = entries.get(key)
    if (old === undefined) return
    entries.delete(key)
    bytes -= old.body.length
  }

  return {
    get bytes () { return bytes },
    get size () { return entries.size },
    async get (key) {
      const entry = entries.get(key)
      if (entry !== undefined) {
        entries.delete(key)
        entries.set(key, entry)
      }
      return entry
    },
    async put (entry) {
      remove(entry.key)
      if (entry.body.length > init.maxBytes) return
      entries.set(entry.key, entry)
      bytes += entry.body.length
      for (const [key] of entries) {
        if (bytes <= init.maxBytes) break
        remove(key)
      }
    },
    async delete (key) {
      remove(key)
    },
    async close () {
      entries.clear()
      bytes = 0
    }
  }
}
