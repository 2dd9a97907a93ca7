/**
 * HTTP failover in real Chromium: without a tracker pages load from the edge; with the
 * chosen edge down the next edge serves; with every edge down the origin does.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { eventsOf, fetchIn, sha256Hex, startCdnEnv, type CdnEnv } from '../helpers/cdn-env.js'

const SIZE = 1024 * 1024
const body = deterministicBytes(SIZE, 'failover')
const cacheable = { 'Cache-Control': 'public, max-age=3600' }

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv(
    {
      '/a.bin': { body, headers: cacheable },
      '/b.bin': { body, headers: cacheable },
      '/c.bin': { body, headers: cacheable }
    },
    { edges: 2 }
  )
})

afterAll(async () => {
  await env?.close()
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
