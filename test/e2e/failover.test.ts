/**
 * HTTP failover in real Chromium: without a tracker pages load from the edge; with the
 * chosen edge down the next edge serves; with every edge down the origin does; with the
 * only edge dying in the middle of a fetch, the origin serves the chunks it did not.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { eventsOf, fetchIn, sha256Hex, startCdnEnv, type CdnEnv } from '../helpers/cdn-env.js'
import { startDyingEdge } from './support/dying-edge.js'

const SIZE = 1024 * 1024
const body = deterministicBytes(SIZE, 'failover')
const cacheable = { 'Cache-Control': 'public, max-age=3600' }
const CHUNK = 256 * 1024
const MID_SIZE = 12 * CHUNK
const mid = deterministicBytes(MID_SIZE, 'failover-mid')

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv(
    {
      '/a.bin': { body, headers: cacheable },
      '/b.bin': { body, headers: cacheable },
      '/c.bin': { body, headers: cacheable },
      '/mid.bin': { body: mid, headers: cacheable }
    },
    { edges: 2 }
  )
})

afterAll(async () => {
  await env.close()
})

it('tracker down: the page still loads from the edge', async () => {
  const page = await env.openPage()
  // A port that was just free: nothing listens there.
  const deadTracker = env.tracker.url.replace(/:\d+/, ':9')
  const r = await fetchIn(page, '/a.bin', { tracker: deadTracker, edges: [env.edges[0]!.url], peerWaitMs: 500 })
  expect(r.sha256).toBe(sha256Hex(body))
  expect(r.stats.bytes.edge).toBe(SIZE)
  expect(r.stats.peers).toEqual([])
  await page.context().close()
})

it('the only edge dies mid-fetch, after the manifest and some chunks: the origin serves every remaining chunk', async () => {
  const dying = await startDyingEdge(env.edges[0]!.url, 2)
  const page = await env.openPage()
  const logged = env.origin.log.length
  try {
    const r = await fetchIn(page, '/mid.bin', { edges: [dying.url], edgeRetryMs: 60_000 })
    expect(r.sha256).toBe(sha256Hex(mid))
    expect(dying.manifests).toBe(1)
    // It served two chunks, then died with the rest of the fetch to go.
    const edgeChunks = dying.rangesServed.map(chunkOf)
    expect(edgeChunks).toHaveLength(2)
    expect(r.stats.bytes.edge).toBe(dying.rangeBytesServed)
    expect(r.stats.bytes.edge).toBe(2 * CHUNK)
    expect(r.stats.bytes.origin).toBe(MID_SIZE - 2 * CHUNK)
    // The page's own Range requests to the origin (the edge's cache fill is not one of them):
    // each remaining chunk, once.
    const originChunks = env.origin.log
      .slice(logged)
      .filter(
        q => q.url === '/mid.bin' && q.headers.range !== undefined && /Chrome/.test(q.headers['user-agent'] ?? '')
      )
      .map(q => chunkOf(q.headers.range!))
    const all = Array.from({ length: MID_SIZE / CHUNK }, (_, i) => i)
    expect([...edgeChunks, ...originChunks].sort((a, b) => a - b)).toEqual(all)
  } finally {
    await page.context().close()
    await dying.close()
  }
})

it('chosen edge down: the next edge serves; all edges down: the origin serves', async () => {
  const page = await env.openPage()
  const urls = env.edges.map(e => e.url)
  const chosen = await page.evaluate(async edges => {
    const w = globalThis as any
    w.cdn = w.P2PCDN.create({ edges, edgeRetryMs: 60_000 })
    w.events = []
    for (const name of ['chunk', 'error']) w.cdn.on(name, (e: unknown) => w.events.push(`${name} ${JSON.stringify(e)}`))
    await w.cdn.ready
    return w.cdn.stats().edge as string
  }, urls)
  const first = env.edges.find(e => e.url === chosen)!
  const second = env.edges.find(e => e.url !== chosen)!
  await first.stop()

  const r = await fetchIn(page, '/b.bin')
  expect(r.sha256).toBe(sha256Hex(body))
  expect(r.stats.bytes.edge).toBe(SIZE)
  expect(r.stats.edge).toBe(second.url)
  expect(eventsOf(r, 'error').some(e => e.code === 'ERR_HTTP')).toBe(true)

  await second.stop()
  const before = env.origin.requests.get('/c.bin') ?? 0
  const o = await fetchIn(page, '/c.bin')
  expect(o.sha256).toBe(sha256Hex(body))
  expect(o.stats.bytes.origin).toBe(SIZE)
  expect(env.origin.requests.get('/c.bin')).toBeGreaterThan(before)
  await page.context().close()
})

/** The chunk a `bytes=a-b` Range starts in. */
function chunkOf(range: string): number {
  const start = Number(/^bytes=(\d+)-/.exec(range)?.[1])
  expect(start % CHUNK).toBe(0)
  return start / CHUNK
}
