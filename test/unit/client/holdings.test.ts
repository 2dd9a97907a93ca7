import 'fake-indexeddb/auto'
import { webcrypto } from 'node:crypto'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { buildManifest, resourceId, type Manifest } from '../../../protocol/src/index.js'
import { Holdings } from '../../../client/src/holdings.js'
import type { ChunkStore } from '../../../client/src/storage/chunk-store.js'
import { createIdbStore } from '../../../client/src/storage/idb-store.js'
import { createMemoryStore } from '../../../client/src/storage/memory-store.js'

const sha256 = async (b: Uint8Array): Promise<Uint8Array> => new Uint8Array(await webcrypto.subtle.digest('SHA-256', b))
const CHUNK = 1024

async function resource(name: string, chunks: number): Promise<{ id: string; manifest: Manifest }> {
  const body = new Uint8Array(chunks * CHUNK).fill(name.charCodeAt(0))
  const manifest = await buildManifest({ url: `https://o.example/${name}`, chunkSize: CHUNK }, body, sha256)
  return { id: await resourceId(manifest, sha256), manifest }
}

async function fill(store: ChunkStore, holdings: Holdings, r: { id: string; manifest: Manifest }): Promise<void> {
  holdings.touch(r.id, r.manifest)
  for (let i = 0; i < r.manifest.chunks.length; i++) {
    await store.putChunk(r.id, i, new Uint8Array(CHUNK))
    holdings.add(r.id, i)
  }
}

// One suite, run against both stores: IndexedDB (fake-indexeddb here, real in e2e) and memory.
describe.each([
  ['indexeddb', async () => await createIdbStore(`test-${Math.random()}`)],
  ['memory', async () => await Promise.resolve(createMemoryStore())]
])('Holdings over the %s store', (_, open) => {
  it('tracks bytes and bitfields and survives a new session', async () => {
    const store = await open()
    const holdings = new Holdings(store, [])
    const a = await resource('a', 3)
    await fill(store, holdings, a)
    expect(holdings.bytes).toBe(3 * CHUNK)
    expect(holdings.bitfield(a.id)?.bitfield).toEqual(Uint8Array.of(0b1110_0000))
    await holdings.flush()
    const again = new Holdings(store, await store.resources())
    expect(again.has(a.id, 2)).toBe(true)
    expect(again.bytes).toBe(3 * CHUNK)
  })

  it('evicts least recently used first, across sessions, never what is kept', async () => {
    // Use times come from Date.now(): a faked Date moves only when told, so the order is certain.
    vi.useFakeTimers({ toFake: ['Date'] })
    onTestFinished(() => {
      vi.useRealTimers()
    })
    const store = await open()
    const holdings = new Holdings(store, [])
    const [a, b, c] = [await resource('a', 2), await resource('b', 2), await resource('c', 2)]
    await fill(store, holdings, a)
    vi.advanceTimersByTime(5)
    await fill(store, holdings, b)
    vi.advanceTimersByTime(5)
    holdings.touch(a.id, a.manifest) // a is now newer than b
    await holdings.flush()
    const next = new Holdings(store, await store.resources())
    const result = await next.evict(4 * CHUNK, 2 * CHUNK, new Set([c.id]))
    expect(result).toEqual({ dropped: [{ id: b.id, chunkCount: 2 }], fits: true })
    expect(next.has(b.id, 0)).toBe(false)
    expect(await store.getChunk(b.id, 0)).toBeUndefined()
    expect((await store.resources()).map(r => r.id)).toEqual([a.id])
    // Only kept resources left: the incoming chunk does not fit.
    expect(await next.evict(CHUNK, CHUNK, new Set([a.id]))).toEqual({ dropped: [], fits: false })
  })
})
