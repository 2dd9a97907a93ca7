/**
 * The operator's view, end to end in Chromium: two pages fetch one resource (the second
 * over WebRTC from the first) and a private one (no manifest), a third with P2P off
 * fetches the first resource too, all report to the tracker, and
 * `/dashboard`, opened in Chromium with the dashboard token, shows exactly what the pages'
 * `cdn.stats()` say. Saves test-results/dashboard.png.
 */
import { mkdir } from 'node:fs/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { BLANK, createIn, fetchIn, peerConnectedIn, sha256Hex, startCdnEnv, type CdnEnv } from '../helpers/cdn-env.js'

const MIB = 1024 * 1024
const TOKEN = 'dashboard-secret'
const shared = deterministicBytes(3 * MIB, 'dashboard-shared')
const secret = deterministicBytes(200 * 1024, 'dashboard-private')
type Bytes = Record<'cache' | 'peer' | 'edge' | 'origin', number>

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv(
    {
      '/movie.bin': { body: shared, headers: { 'Cache-Control': 'public, max-age=3600' } },
      '/account.bin': { body: secret, headers: { 'Cache-Control': 'private, no-store' } }
    },
    { trackerInit: { dashboardToken: TOKEN } }
  )
})

afterAll(async () => {
  await env?.close()
})

async function dashboardJson(): Promise<any> {
  const res = await fetch(`${env.tracker.httpUrl}/dashboard.json`, { headers: { authorization: `Bearer ${TOKEN}` } })
  expect(res.status).toBe(200)
  return await res.json()
}

it('the dashboard shows what the pages reported: offload, sources, reasons, resources', async () => {
  const init = { tracker: env.tracker.url, swarm: 'dashboard', statsIntervalMs: 5000 }
  const first = await env.openPage()
  const a = await fetchIn(first, '/movie.bin', init)
  expect(a.sha256).toBe(sha256Hex(shared))
  const second = await env.openPage()
  await createIn(second, init)
  await peerConnectedIn(second)
  const b = await fetchIn(second, '/movie.bin')
  expect(b.sha256).toBe(sha256Hex(shared))
  expect(b.stats.bytes.peer).toBeGreaterThan(0)
  const c = await fetchIn(second, '/account.bin')
  expect(c.size).toBe(secret.length)
  const third = await env.openPage()
  const d = await fetchIn(third, '/movie.bin', { ...init, p2p: false })
  expect(d.stats.bytes.edge).toBe(shared.length)

  // Everything fetched is in; the next report of each page carries it.
  const stats = await Promise.all([first, second, third].map(p => p.evaluate(() => (globalThis as any).cdn.stats())))
  const want: Bytes = { cache: 0, peer: 0, edge: 0, origin: 0 }
  for (const s of stats) for (const k of Object.keys(want) as Array<keyof Bytes>) want[k] += s.bytes[k]
  let data: any
  await expect
    .poll(async () => (data = await dashboardJson()).fleet.totals.bytes, { timeout: 20_000, interval: 250 })
    .toEqual(want)
  const http = data.fleet.totals.http
  // Every HTTP byte has a reason: the first page found no peer, the private file has no
  // manifest, the third page has P2P off.
  expect(Object.values(http).reduce((x: number, y: any) => x + Number(y), 0)).toBe(want.edge + want.origin)
  expect(http['no-manifest']).toBe(secret.length)
  expect(http['p2p-off']).toBe(shared.length)
  expect(http['no-peer']).toBe(want.edge + want.origin - secret.length - shared.length)
  expect(data.fleet.totals.connections.attempted).toBeGreaterThanOrEqual(2)
  const movie = data.fleet.resources.find((r: any) => r.url.endsWith('/movie.bin'))
  expect(movie.bytes.peer).toBe(b.stats.bytes.peer)
  expect(movie.bytes.edge + movie.bytes.peer).toBe(3 * shared.length)
  expect(data.edges).toHaveLength(1)

  const context = await env.browser.newContext({
    httpCredentials: { username: 'ops', password: TOKEN },
    viewport: { width: 1280, height: 900 }
  })
  const page = await context.newPage()
  await page.goto(`${env.tracker.httpUrl}/dashboard?every=500`)
  await page.waitForFunction(
    n => Number(document.getElementById('status')?.dataset.reports) >= n,
    data.fleet.totals.reports
  )
  const shown = await page.evaluate(() => {
    const v = (sel: string): number => Number(document.querySelector(sel)?.getAttribute('data-value'))
    return {
      offload: v('#offload'),
      network: v('#network'),
      sources: Object.fromEntries(
        ['cache', 'peer', 'edge', 'origin'].map(s => [s, v(`#sources tr[data-key="${s}"] td[data-value]`)])
      ),
      noManifest: v('#reasons tr[data-key="no-manifest"] td[data-value]'),
      edges: document.querySelectorAll('#edges tr[data-key]').length,
      resources: [...document.querySelectorAll('#resources tr[data-key]')].map(tr => tr.getAttribute('data-key'))
    }
  })
  expect(shown.sources).toEqual(want)
  expect(shown.network).toBe(want.peer + want.edge + want.origin)
  expect(shown.offload).toBeCloseTo(want.peer / (want.peer + want.edge + want.origin), 10)
  expect(shown.noManifest).toBe(secret.length)
  expect(shown.edges).toBe(1)
  expect(shown.resources.some(u => u?.endsWith('/movie.bin'))).toBe(true)
  await mkdir('test-results', { recursive: true })
  await page.screenshot({ path: 'test-results/dashboard.png', fullPage: true })

  // Without the token: asked for credentials, shown nothing.
  const anonymous = await fetch(`${env.tracker.httpUrl}/dashboard.json`)
  expect(anonymous.status).toBe(401)
  expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /)
  await context.close()
  for (const p of [first, second, third]) await p.context().close()
}, 60_000)

it('a page going away sends what it fetched since its last report (pagehide)', async () => {
  const before = (await dashboardJson()).fleet.totals
  const page = await env.openPage()
  // No periodic report within the test: only pagehide can carry these bytes.
  const r = await fetchIn(page, '/movie.bin', { tracker: env.tracker.url, swarm: 'leaving', statsIntervalMs: 600_000 })
  const fetched = r.stats.bytes.peer + r.stats.bytes.edge + r.stats.bytes.origin + r.stats.bytes.cache
  expect(fetched).toBe(shared.length)
  await page.goto(`${env.origin.url}${BLANK}`)
  await expect
    .poll(async () => (await dashboardJson()).fleet.totals.reports, { timeout: 10_000, interval: 100 })
    .toBe(before.reports + 1)
  const after = (await dashboardJson()).fleet
  expect(after.swarms.leaving).toEqual(r.stats.bytes)
  await page.context().close()
}, 30_000)
