/**
 * Hot entries in memory, every entry on disk. Disk writes run in the background so a
 * fill is served as soon as it is in memory; `close()` waits for them.
 */
import type { Logger } from '../../../protocol/src/index.js'
import type { DiskStore } from './disk-store.js'
import type { MemoryStore } from './memory-store.js'
import type { CacheStore } from './store.js'

export interface TieredStoreInit {
  memory: MemoryStore
  disk: DiskStore
  logger: Logger
}

export function createTieredStore (init: TieredStoreInit): CacheStore {
  const { memory, disk, logger } = init
  const pending = new Set<Promise<void>>()
  // Writes per key run in order, so an older body never overwrites a newer one.
  const lastWrite = new Map<string, Promise<void>>()

  const track = (key: string, write: () => Promise<void>): void => {
    const previous = lastWrite.get(key) ?? Promise.resolve()
    const p = previous.then(write).catch(err => logger.error('disk-write-failed', { key, error: String(err) }))
    lastWrite.set(key, p)
    pending.add(p)
    void p.finally(() => {
      pending.delete(p)
      if (lastWrite.get(key) === p) lastWrite.delete(key)
    })
  }

  return {
    async get (key) {
      const hot = await memory.get(key)
      if (hot !== undefined) return hot
      await lastWrite.get(key)
      const cold = await disk.get(key)
      if (cold !== undefined) await memory.put(cold)
      return cold
    },
    async put (entry) {
      await memory.put(entry)
      track(entry.key, async () => await disk.put(entry))
    },
    async delete (key) {
      await memory.delete(key)
      track(key, async () => await disk.delete(key))
    },
    async close () {
      while (pending.size > 0) await Promise.all([...pending])
      await memory.close()
      await disk.close()
    }
  }
}
