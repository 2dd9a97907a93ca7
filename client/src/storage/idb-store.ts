import { createStore, del, delMany, entries, get, set, type UseStore } from 'idb-keyval'
import { chunkKey, type ChunkStore, type ResourceRecord } from './chunk-store.js'

/**
 * IndexedDB through idb-keyval. Chunks and the resource index live in two databases
 * because idb-keyval manages one object store per database, and reading the index at
 * start must not load every chunk.
 */
export async function createIdbStore(prefix = 'p2pcdn'): Promise<ChunkStore> {
  const chunks: UseStore = createStore(`${prefix}-chunks`, 'chunks')
  const index: UseStore = createStore(`${prefix}-resources`, 'resources')
  // Opening fails in some private modes; find out now so the caller can fall back.
  await get('probe', index)
  return {
    kind: 'indexeddb',
    resources: async () => (await entries<string, ResourceRecord>(index)).map(([, record]) => record),
    putResource: async record => {
      await set(record.id, record, index)
    },
    getChunk: async (id, i) => await get<Uint8Array>(chunkKey(id, i), chunks),
    putChunk: async (id, i, bytes) => {
      await set(chunkKey(id, i), bytes, chunks)
    },
    deleteResource: async (id, indices) => {
      // The record goes first: a crash in between leaves orphan chunks, never a record
      // that claims chunks that are gone.
      await del(id, index)
      await delMany(
        indices.map(i => chunkKey(id, i)),
        chunks
      )
    }
  }
}
