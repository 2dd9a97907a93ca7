import { chunkKey, type ChunkStore, type ResourceRecord } from './chunk-store.js'

/** Used where IndexedDB is unavailable (private mode, some webviews). Lost on reload. */
export function createMemoryStore(): ChunkStore {
  const records = new Map<string, ResourceRecord>()
  const chunks = new Map<string, Uint8Array>()
  return {
    kind: 'memory',
    resources: async () => [...records.values()],
    putResource: async record => {
      records.set(record.id, { ...record, have: [...record.have] })
    },
    getChunk: async (id, index) => chunks.get(chunkKey(id, index)),
    putChunk: async (id, index, bytes) => {
      chunks.set(chunkKey(id, index), bytes)
    },
    deleteResource: async (id, indices) => {
      records.delete(id)
      for (const i of indices) chunks.delete(chunkKey(id, i))
    }
  }
}
