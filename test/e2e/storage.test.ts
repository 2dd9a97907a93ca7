/**
 * Storage in real Chromium: a small `cacheBytes` evicts the least recently used
 * resources, by use across sessions (page reloads); without IndexedDB the SDK keeps
 * chunks in memory and says so with a `storage` event.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { eventsOf, fetchIn, sha256Hex, startCdnEnv, type CdnEnv } from '../helpers/cdn-env.js'
import { breakIndexedDb } from './support/page-probes.js'

const MIB = 1024 * 1024
const bodies = {
  a: deterministicBytes(MIB, 'lru-a'),
  b: deterministicBytes(MIB, 'lru-b'),
  c: deterministicBytes(MIB, 'lru-c')
}
type Name = keyof typeof bodies

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv(
    Object.fromEntries(
      Object.entries(bodies).map(([n, body]) => [
        `/${n}.bin`,
        { body, headers: { 'Cache-Control': 'public, max-age=3600' } }
      ])
    )
  )
})

afterAll(async () => {
  await env?.close()
})

it('a small cacheBytes evicts the least recently used resource, remembered across sessions', async () => {
  const page = await env.openPage()
  // Room for two of the three 1 MiB resources.
  const init = { edges: [env.edges[0]!.url], cacheBytes: 2.5 * MIB, storeName: 'lru' }
  const load = async (name: Name): Promise<{ cache: number; held: number }> => {
    const r = await fetchIn(page, `/${name}.bin`, init)
    expect(r.sha256).toBe(sha256Hex(bodies[name]))
    expect(r.stats.cache.limitBytes).toBeLessThanOrEqual(2.5 * MIB)
    return { cache: r.stats.resources[`${env.origin.url}/${name}.bin`]?.cache ?? 0, held: r.stats.cache.bytes }
  }
  const newSession = async (): Promise<void> => {
    // Flush the index, then reload: a new session with the same IndexedDB.
    await page.evaluate(async () => {
      await (globalThis as any).cdn.destroy()
    })
    await page.reload()
    await page.addScriptTag({ url: `${env.edges[0]!.url}/p2pcdn.js` })
  }
  await load('a')
  await load('b')
  await newSession()
  expect((await load('a')).cache).toBe(MIB) // a is now the most recently used
  await newSession()
  const c = await load('c') // evicts b, the least recently used
  expect(c.held).toBeLessThanOrEqual(2.5 * MIB)
  await newSession()
  expect((await load('a')).cache).toBe(MIB)
  expect((await load('c')).cache).toBe(MIB)
  expect((await load('b')).cache).toBe(0)
  await page.context().close()
})

it('without IndexedDB: memory store and a storage event', async () => {
  const page = await env.openPage({ init: [[breakIndexedDb]] })
  const r = await fetchIn(page, '/a.bin', { edges: [env.edges[0]!.url] })
  expect(r.sha256).toBe(sha256Hex(bodies.a))
  expect(r.stats.storage).toBe('memory')
  expect(eventsOf(r, 'storage')).toEqual([{ kind: 'memory', reason: expect.stringContaining('IndexedDB disabled') }])
  // Still a cache within the session.
  const again = await fetchIn(page, '/a.bin')
  expect(again.stats.bytes.cache).toBe(MIB)
  await page.context().close()
})
