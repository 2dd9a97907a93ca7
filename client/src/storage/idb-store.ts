import { createStore, del, delMany, entries, get, set, type UseStore } from 'idb-keyval'
import { errorMessageOf, StorageError } from '../../../protocol/src/index.js'
import { chunkKey, type ChunkStore, type ResourceRecord } from './chunk-store.js'

/**
 * IndexedDB through idb-keyval. Chunks and the resource index live in two databases
 * because idb-keyval manages one object store per database, and reading the index at
 * start must not load every chunk. Every failure (quota, a closed or deleted database)
 * rejects with a StorageError (ERR_STORAGE): IndexedDB's own DOMExceptions carry no code
 * of ours.
 */
export async function createIdbStore(prefix = 'p2pcdn'): Promise<ChunkStore> {
  const chunks: UseStore = createStore(`${prefix}-chunks`, 'chunks')
  const index: UseStore = createStore(`${prefix}-resources`, 'resources')
  // Opening fails in some private modes; find out now so the caller can fall back.
  await get('probe', index)
  return {
    kind: 'indexeddb',
    resources: async () =>
      await stored('read the index', async () =>
        (await entries<string, ResourceRecord>(index)).map(([, record]) => record)
      ),
    putResource: async record => {
      await stored(`write resource ${record.id}`, async () => await set(record.id, record, index))
    },
    getChunk: async (id, i) =>
      await stored(`read chunk ${i} of ${id}`, async () => await get<Uint8Array>(chunkKey(id, i), chunks)),
    putChunk: async (id, i, bytes) => {
      await stored(`write chunk ${i} of ${id}`, async () => await set(chunkKey(id, i), bytes, chunks))
    },
    deleteResource: async (id, indices) => {
      // The record goes first: a crash in between leaves orphan chunks, never a record
      // that claims chunks that are gone.
      await stored(`delete resource ${id}`, async () => {
        await del(id, index)
        await delMany(
          indices.map(i => chunkKey(id, i)),
          chunks
        )
      })
    }
  }
}

async function stored<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run()
  } catch (err) {
    const name = (err as { name?: unknown } | null)?.name
    throw new StorageError(`IndexedDB: ${what}: ${typeof name === 'string' ? `${name}: ` : ''}${errorMessageOf(err)}`)
  }
}
