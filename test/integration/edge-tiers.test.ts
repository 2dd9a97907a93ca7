/**
 * Tiered caching (`parent`): two child edges fill from one shield edge, which fills from
 * a real origin on port 0. What an operator checks: the origin serves each resource
 * once, however many children and concurrent clients ask; ranges, ages, revalidation and
 * manifests work through both tiers; a loop or a dead parent gives a clear error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseManifest, serializeManifest } from '../../protocol/src/index.js'
import { createEdge } from '../../edge/src/index.js'
import type { Edge, EdgeInit } from '../../edge/src/index.js'
import { generateManifestKeyPair, verifyManifestSignature } from '../../edge/src/manifest-signer.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { startOrigin } from '../helpers/origin.js'
import { freePort } from '../helpers/ports.js'
import type { TestOrigin } from '../helpers/origin.js'

const CHUNK = 16 * 1024
const BIG = deterministicBytes(100_000, 'edge-tiers')
const CACHEABLE = { 'Cache-Control': 'public, max-age=3600' }
const KEY = generateManifestKeyPair()

let origin: TestOrigin
/** One clock for every edge: the tests move it to age entries. */
let now = Date.now()
/** The shield's clock against the others'. */
let shieldAheadMs = 0
let shield: Edge
let eu: Edge
let us: Edge
const started: Edge[] = []

async function startEdge(init: Partial<EdgeInit> = {}): Promise<Edge> {
  const e = createEdge({ origin: origin.url, port: 0, chunkSize: CHUNK, now: () => now, ...init })
  await e.start()
  started.push(e)
  return e
}

beforeAll(async () => {
  origin = await startOrigin({
    '/a.bin': { body: BIG, headers: CACHEABLE },
    '/slow.bin': { body: BIG, headers: CACHEABLE, delayMs: 150 },
    '/range.bin': { body: BIG, headers: CACHEABLE },
    // The CDN's lifetime is 100 s, the browser's 5 s: 100 s from the origin, not per tier.
    '/aged.txt': { body: 'aged', headers: { 'Cache-Control': 'max-age=5', 'CDN-Cache-Control': 'max-age=100' } },
    '/reval.txt': { body: 'revalidate me', headers: { 'Cache-Control': 'public, max-age=60' } },
    '/signed.bin': { body: BIG, headers: CACHEABLE }
  })
  shield = await startEdge({ region: 'shield', manifestKey: KEY.privateKeyPem, now: () => now + shieldAheadMs })
  eu = await startEdge({ region: 'eu', parent: shield.url })
  us = await startEdge({ region: 'us', parent: shield.url })
})

afterAll(async () => {
  for (const e of started) await e.stop()
  await origin.close()
})

const bytesOf = async (res: Response): Promise<Buffer> => Buffer.from(await res.arrayBuffer())
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))
const originLog = (path: string): typeof origin.log => origin.log.filter(r => r.url.split('?')[0] === path)

describe('edge tiers', () => {
  it('serves a resource fetched through two children sharing one parent with one origin request', async () => {
    const fromEu = await fetch(`${eu.url}/a.bin`)
    const fromUs = await fetch(`${us.url}/a.bin`)
    expect(same(await bytesOf(fromEu), BIG)).toBe(true)
    expect(same(await bytesOf(fromUs), BIG)).toBe(true)
    expect(fromEu.headers.get('x-cache')).toBe('MISS')
    expect(fromUs.headers.get('x-cache')).toBe('MISS')
    expect(fromUs.headers.get('x-p2pcdn-region')).toBe('us')
    // Both tiers are on the path, in Via as in CDN-Loop.
    expect(fromUs.headers.get('via')).toBe('1.1 p2pcdn-edge, 1.1 p2pcdn-edge')
    expect((await fetch(`${eu.url}/a.bin`)).headers.get('x-cache')).toBe('HIT')
    expect(origin.requests.get('/a.bin')).toBe(1)
    const loop = String(originLog('/a.bin')[0]?.headers['cdn-loop'])
    expect(loop).toMatch(/^p2pcdn; edge=[\w-]+, p2pcdn; edge=[\w-]+$/)
  })

  it('coalesces concurrent misses at each tier', async () => {
    const shieldBefore = shield.stats().originRequests
    const euBefore = eu.stats().originRequests
    const usBefore = us.stats().originRequests
    const all = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => await bytesOf(await fetch(`${(i % 2 ? us : eu).url}/slow.bin`)))
    )
    for (const body of all) expect(same(body, BIG)).toBe(true)
    // 10 clients at each child: one request to the parent each, one to the origin in all.
    expect(eu.stats().originRequests - euBefore).toBe(1)
    expect(us.stats().originRequests - usBefore).toBe(1)
    expect(shield.stats().originRequests - shieldBefore).toBe(1)
    expect(origin.requests.get('/slow.bin')).toBe(1)
  })

  it('serves ranges through two tiers, filling whole objects', async () => {
    const res = await fetch(`${eu.url}/range.bin`, { headers: { Range: 'bytes=1000-1999' } })
    expect(res.status).toBe(206)
    expect(res.headers.get('content-range')).toBe(`bytes 1000-1999/${BIG.length}`)
    expect(same(await bytesOf(res), BIG.subarray(1000, 2000))).toBe(true)
    const tail = await fetch(`${us.url}/range.bin`, { headers: { Range: 'bytes=-10' } })
    expect(tail.status).toBe(206)
    expect(same(await bytesOf(tail), BIG.subarray(BIG.length - 10))).toBe(true)
    expect(origin.requests.get('/range.bin')).toBe(1)
    expect(originLog('/range.bin')[0]?.headers.range).toBeUndefined()
  })

  it("adds the parent's Age, so a CDN-Cache-Control lifetime counts once across tiers", async () => {
    const start = now
    try {
      await bytesOf(await fetch(`${shield.url}/aged.txt`))
      // The shield's clock runs 50 s ahead of the child's: only Age can tell the child.
      shieldAheadMs = 50_000
      const first = await fetch(`${eu.url}/aged.txt`)
      await first.arrayBuffer()
      expect(first.headers.get('x-cache')).toBe('MISS')
      expect(Number(first.headers.get('age'))).toBeGreaterThanOrEqual(50)
      now = start + 40_000
      const hit = await fetch(`${eu.url}/aged.txt`)
      await hit.arrayBuffer()
      expect(hit.headers.get('x-cache')).toBe('HIT')
      expect(Number(hit.headers.get('age'))).toBeGreaterThanOrEqual(90)
      // 101 s since the origin answered: stale at the child, 51 s after it filled.
      now = start + 51_000
      const after = await fetch(`${eu.url}/aged.txt`)
      await after.arrayBuffer()
      expect(after.headers.get('x-cache')).not.toBe('HIT')
    } finally {
      now = start
      shieldAheadMs = 0
    }
  })

  it('revalidates through the parent with 304s at both tiers', async () => {
    const start = now
    try {
      expect(await (await fetch(`${eu.url}/reval.txt`)).text()).toBe('revalidate me')
      const euRevalidations = eu.stats().revalidations
      const shieldRevalidations = shield.stats().revalidations
      now = start + 61_000
      const res = await fetch(`${eu.url}/reval.txt`)
      expect(await res.text()).toBe('revalidate me')
      expect(res.headers.get('x-cache')).toBe('REVALIDATED')
      expect(eu.stats().revalidations - euRevalidations).toBe(1)
      expect(shield.stats().revalidations - shieldRevalidations).toBe(1)
      const log = originLog('/reval.txt')
      expect(log).toHaveLength(2)
      expect(log[1]?.headers['if-none-match']).toMatch(/^"/)
    } finally {
      now = start
    }
  })

  it("relays the parent's signed manifest: the child's manifest verifies with the operator key", async () => {
    const url = encodeURIComponent(`${origin.url}/signed.bin`)
    const res = await fetch(`${eu.url}/_p2pcdn/manifest?url=${url}`)
    expect(res.status).toBe(200)
    const child = parseManifest(await res.text())
    const parent = parseManifest(await (await fetch(`${shield.url}/_p2pcdn/manifest?url=${url}`)).text())
    expect(serializeManifest(child)).toBe(serializeManifest(parent))
    expect(child.url).toBe(`${origin.url}/signed.bin`)
    expect(child.signatures).toHaveLength(1)
    expect(verifyManifestSignature(child, child.signatures![0]!, KEY.publicKey)).toBe(true)
    // The bytes behind it were filled once, for both tiers.
    expect(origin.requests.get('/signed.bin')).toBe(1)
  })

  it('leaves a manifest unsigned when the parent describes it otherwise (another chunk size)', async () => {
    const odd = await startEdge({ parent: shield.url, chunkSize: 2 * CHUNK })
    const res = await fetch(`${odd.url}/_p2pcdn/manifest?url=/signed.bin`)
    const m = parseManifest(await res.text())
    expect(m.chunkSize).toBe(2 * CHUNK)
    expect(m.signatures).toBeUndefined()
  })
})

describe('edge tier faults', () => {
  it('refuses a loop A -> B -> A with 508, and the origin is never asked', async () => {
    const port = await freePort()
    const b = await startEdge({ parent: `http://127.0.0.1:${port}` })
    const a = await startEdge({ port, parent: b.url })
    const before = origin.totalRequests()
    const res = await fetch(`${a.url}/a.bin`)
    expect(res.status).toBe(508)
    expect(((await res.json()) as { code: string }).code).toBe('ERR_PROTOCOL')
    expect(origin.totalRequests()).toBe(before)
  })

  it('refuses an edge that is its own parent', async () => {
    const port = await freePort()
    const self = await startEdge({ port, parent: `http://127.0.0.1:${port}` })
    const res = await fetch(`${self.url}/a.bin`)
    expect(res.status).toBe(508)
    await res.arrayBuffer()
    expect(() =>
      createEdge({ origin: origin.url, parent: 'http://cdn.test:8081', publicUrl: 'http://cdn.test:8081/' })
    ).toThrow(/"parent": is this edge's own publicUrl/)
  })

  it('answers 502 naming the parent when the parent is down, without going round it to the origin', async () => {
    const port = await freePort()
    const orphan = await startEdge({ parent: `http://127.0.0.1:${port}` })
    const before = origin.totalRequests()
    const res = await fetch(`${orphan.url}/a.bin`)
    expect(res.status).toBe(502)
    const body = (await res.json()) as { code: string; error: string }
    expect(body.code).toBe('ERR_HTTP')
    expect(body.error).toMatch(/^parent failed: ECONNREFUSED/)
    expect(origin.totalRequests()).toBe(before)
  })

  it('names a bad parent option', () => {
    expect(() => createEdge({ origin: origin.url, parent: 'ftp://x' })).toThrow(/"parent": expected an http/)
    expect(() => createEdge({ origin: origin.url, parent: 'http://shield.test/cdn' })).toThrow(
      /"parent": expected scheme:\/\/host/
    )
    expect(() => createEdge({ origin: origin.url, parent: 'not a url' })).toThrow(TypeError)
  })
})
