/**
 * The visitor's say and the connection budget in real Chromium: consent, the P2P switch, upload off,
 * saveData, no RTCPeerConnection leak across 100 fetches and 20 peer churns, teardown
 * on pagehide, and script-tag elements added after load.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { fetchIn, sha256Hex, startCdnEnv, type CdnEnv } from '../helpers/cdn-env.js'
import { countConnections, saveData, type ConnectionProbe } from './support/page-probes.js'

const MIB = 1024 * 1024
const big = deterministicBytes(MIB, 'visitor')
const small = deterministicBytes(64 * 1024, 'small')
const cacheable = { 'Cache-Control': 'public, max-age=3600' }

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv({
    '/consent.bin': { body: big, headers: cacheable },
    '/upload.bin': { body: big, headers: cacheable },
    '/small.bin': { body: small, headers: cacheable },
    ...Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`/many-${i}.bin`, { body: small, headers: cacheable }]))
  })
})

afterAll(async () => {
  await env.close()
})

/** Peers the tracker holds in the swarm a page names `swarm` (its info_hash: the first 20 bytes of SHA-256 of the name). */
async function swarmPeers(swarm: string): Promise<number> {
  const infoHash = createHash('sha256').update(swarm).digest().subarray(0, 20).toString('hex')
  const stats = (await (await fetch(`${env.tracker.httpUrl}/stats`)).json()) as {
    swarmList: Array<{ infoHash: string; peers: number }>
  }
  return stats.swarmList.find(s => s.infoHash === infoHash)?.peers ?? 0
}

const probe = async (page: import('playwright').Page): Promise<ConnectionProbe> =>
  await page.evaluate(() => ({ ...(globalThis as any).__probe }))

it("consent 'required': no tracker socket, no RTCPeerConnection, no swarm until cdn.consent(true); then that same instance joins and uploads", async () => {
  const seed = await env.openPage()
  await fetchIn(seed, '/consent.bin', { tracker: env.tracker.url, swarm: 'consent' })
  const page = await env.openPage({ init: [[countConnections]] })
  const r = await fetchIn(page, '/consent.bin', {
    tracker: env.tracker.url,
    swarm: 'consent',
    consent: 'required',
    edges: [env.edges[0]!.url],
    storeName: 'consent'
  })
  expect(r.sha256).toBe(sha256Hex(big))
  expect(r.stats.bytes.edge).toBe(big.length)
  expect(await probe(page)).toMatchObject({ pcCreated: 0, wsCreated: 0 })
  expect(await page.evaluate(() => (globalThis as any).cdn.stats().peerId)).toBeUndefined()
  // The tracker knows the seed, and nobody else: the page has no socket to be known by.
  await expect.poll(async () => await swarmPeers('consent'), { timeout: 10_000 }).toBe(1)

  // Given: this instance, not another one, opens its socket, joins the swarm and meets the seed.
  await page.evaluate(() => (globalThis as any).cdn.consent(true))
  const pageId = await page.waitForFunction(
    () => {
      const stats = (globalThis as any).cdn.stats()
      return stats.peers.length > 0 ? (stats.peerId as string) : undefined
    },
    undefined,
    { timeout: 10_000 }
  )
  const id = (await pageId.jsonValue())!
  expect(await swarmPeers('consent')).toBe(2)
  await seed.waitForFunction(id => (globalThis as any).cdn.stats().peers.some((p: { id: string }) => p.id === id), id, {
    timeout: 10_000
  })
  const counted = await probe(page)
  expect(counted.wsCreated).toBe(1)
  expect(counted.pcCreated).toBeGreaterThan(0)

  // With the seed gone, the consented page is the only holder: what a new visitor takes from peers, it uploaded.
  await seed.context().close()
  const taker = await env.openPage()
  const took = await taker.evaluate(
    async ({ tracker, id }) => {
      const w = globalThis as any
      const cdn = w.P2PCDN.create({ tracker, swarm: 'consent', persist: false })
      const deadline = performance.now() + 10_000
      while (!cdn.stats().peers.some((p: { id: string }) => p.id === id) && performance.now() < deadline)
        await new Promise(resolve => setTimeout(resolve, 20))
      const size = (await (await cdn.fetch('/consent.bin')).arrayBuffer()).byteLength
      const { peer } = cdn.stats().bytes
      await cdn.destroy()
      return { size, peer }
    },
    { tracker: env.tracker.url, id }
  )
  expect(took.size).toBe(big.length)
  expect(took.peer).toBeGreaterThan(0)
  await page.waitForFunction(n => (globalThis as any).cdn.stats().uploaded === n, took.peer, { timeout: 10_000 })
  await taker.context().close()
  await page.context().close()
})

it('p2p: false, the global switch: the page loads over HTTP and never creates an RTCPeerConnection', async () => {
  const page = await env.openPage({ init: [[countConnections]] })
  const r = await fetchIn(page, '/consent.bin', { tracker: env.tracker.url, swarm: 'consent', p2p: false })
  expect(r.sha256).toBe(sha256Hex(big))
  expect(r.stats.bytes.peer).toBe(0)
  expect((await probe(page)).pcCreated).toBe(0)
  await page.context().close()
})

it('upload off and saveData: such pages serve no peer', async () => {
  const off = await env.openPage()
  await fetchIn(off, '/upload.bin', { tracker: env.tracker.url, swarm: 'upload', upload: false })
  const frugal = await env.openPage({ init: [[saveData]] })
  await fetchIn(frugal, '/upload.bin', { tracker: env.tracker.url, swarm: 'upload' })
  const taker = await env.openPage()
  const r = await fetchIn(taker, '/upload.bin', { tracker: env.tracker.url, swarm: 'upload' })
  expect(r.sha256).toBe(sha256Hex(big))
  expect(r.stats.bytes.peer).toBe(0)
  expect(r.stats.bytes.edge).toBe(big.length)
  for (const p of [off, frugal]) expect(await p.evaluate(() => (globalThis as any).cdn.stats().uploaded)).toBe(0)
  for (const p of [off, frugal, taker]) await p.context().close()
})

it('no RTCPeerConnection leak across 100 fetches and 20 peer churns; pagehide tears down', async () => {
  const maxPeers = 4
  const hub = await env.openPage({ init: [[countConnections]] })
  await fetchIn(hub, '/small.bin', { tracker: env.tracker.url, swarm: 'churn', maxPeers })
  const churner = await env.openPage({ init: [[countConnections]] })
  const churned = await churner.evaluate(
    async ({ tracker, maxPeers }) => {
      const w = globalThis as any
      let peerBytes = 0
      for (let i = 0; i < 20; i++) {
        const cdn = w.P2PCDN.create({ tracker, swarm: 'churn', maxPeers, persist: false })
        // A one-chunk resource does not wait for peers: connect first, so each round churns a connection.
        const deadline = performance.now() + 10_000
        while (cdn.stats().peers.length === 0 && performance.now() < deadline)
          await new Promise(resolve => setTimeout(resolve, 20))
        await (await cdn.fetch('/small.bin')).arrayBuffer()
        peerBytes += Number(cdn.stats().bytes.peer)
        await cdn.destroy()
      }
      return peerBytes
    },
    { tracker: env.tracker.url, maxPeers }
  )
  expect(churned).toBeGreaterThan(0)
  // 100 fetches on the hub, over five resources, while the churner is gone.
  await hub.evaluate(async () => {
    const w = globalThis as any
    for (let i = 0; i < 100; i++) await (await w.cdn.fetch(`/many-${i % 5}.bin`)).arrayBuffer()
  })
  const hubCount = await probe(hub)
  expect(hubCount.pcMaxOpen).toBeLessThanOrEqual(maxPeers)
  expect(hubCount.pcOpen).toBeLessThanOrEqual(maxPeers)
  const churnerCount = await probe(churner)
  expect(churnerCount.pcCreated).toBeGreaterThan(0)
  expect(churnerCount.pcMaxOpen).toBeLessThanOrEqual(maxPeers)
  expect(churnerCount.pcOpen).toBe(0)

  // A page that connects to the hub and then navigates away: pagehide closes its peers.
  const leaver = await env.openPage()
  await fetchIn(leaver, '/small.bin', { tracker: env.tracker.url, swarm: 'churn', maxPeers, persist: false })
  const leaverId = await hub.evaluate(() => {
    const w = globalThis as any
    return w.events
      .filter((e: string) => e.startsWith('peer '))
      .map((e: string) => JSON.parse(e.slice(5)))
      .at(-1)?.id as string
  })
  await leaver.goto('about:blank')
  await hub.waitForFunction(
    id => !(globalThis as any).cdn.stats().peers.some((p: { id: string }) => p.id === id),
    leaverId,
    { timeout: 10_000 }
  )
  for (const p of [hub, churner, leaver]) await p.context().close()
})

it('script tag: data-p2p-src elements added after load are upgraded too', async () => {
  env.origin.files['/late.html'] = {
    type: 'text/html',
    body: `<!doctype html><script src="${env.edges[0]!.url}/p2pcdn.js" data-tracker="${env.tracker.url}" data-swarm="tag" data-upload="off"></script>`
  }
  const page = await env.openPage()
  await page.goto(`${env.origin.url}/late.html`)
  const result = await page.evaluate(async () => {
    const cdn = await (globalThis as any).P2PCDN.ready
    const a = document.createElement('a')
    a.setAttribute('download', 'small.bin')
    a.setAttribute('data-p2p-src', '/small.bin')
    document.body.append(a)
    for (let i = 0; i < 100 && !a.href.startsWith('blob:'); i++) await new Promise(resolve => setTimeout(resolve, 50))
    const bytes = new Uint8Array(await (await fetch(a.href)).arrayBuffer())
    return { href: a.href, size: bytes.length, upload: cdn.config.upload, swarm: cdn.config.swarm }
  })
  expect(result.href).toMatch(/^blob:/)
  expect(result).toMatchObject({ size: small.length, upload: false, swarm: 'tag' })
  await page.context().close()
})
