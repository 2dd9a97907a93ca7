/**
 * The edge against a real origin on port 0: caching, ranges, coalescing, manifests,
 * CORS, the SDK route, hostile URLs, disk persistence and tracker registration.
 */
import { createHash, createHmac } from 'node:crypto'
import http from 'node:http'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { WebSocketServer } from 'ws'
import type { WebSocket } from 'ws'
import { chunkCount, parseManifest, toBase64Url } from '../../protocol/src/index.js'
import type { Logger } from '../../protocol/src/index.js'
import { createEdge } from '../../edge/src/index.js'
import type { Edge, EdgeInit } from '../../edge/src/index.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { startOrigin } from '../helpers/origin.js'
import type { TestOrigin } from '../helpers/origin.js'

const CHUNK = 16 * 1024
const BIG = deterministicBytes(100_000, 'edge-big')
const SMALL = 'hello, edge\n'
const CACHEABLE = { 'Cache-Control': 'public, max-age=3600' }

let origin: TestOrigin
let edge: Edge
let tmp: string
/** Every edge started (the shared one too): afterAll stops them. */
const startedEdges: Edge[] = []

async function startEdge(init: Partial<EdgeInit> = {}): Promise<Edge> {
  const e = createEdge({
    origin: origin.url,
    port: 0,
    region: 'eu',
    chunkSize: CHUNK,
    sdkPath: join(tmp, 'p2pcdn.js'),
    ...init
  })
  await e.start()
  startedEdges.push(e)
  return e
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'p2pcdn-edge-'))
  origin = await startOrigin({
    '/big.bin': { body: BIG, headers: CACHEABLE },
    '/small.txt': { body: SMALL, type: 'text/plain', headers: CACHEABLE },
    '/slow.bin': { body: BIG, headers: CACHEABLE, delayMs: 150 },
    '/heuristic.txt': {
      body: 'no cache-control at all',
      headers: { 'Last-Modified': new Date(Date.now() - 10 * 86_400_000).toUTCString() }
    },
    '/unlabelled.txt': { body: 'no cache-control, no last-modified' },
    '/no-store.txt': { body: 'secret', headers: { 'Cache-Control': 'no-store' } },
    '/private.txt': { body: 'mine', headers: { 'Cache-Control': 'private, max-age=60' } },
    '/gone.txt': { body: 'gone', status: 410 },
    '/range-first.bin': { body: BIG, headers: CACHEABLE },
    '/q.txt': { body: 'query', headers: CACHEABLE }
  })
  edge = await startEdge()
})

afterAll(async () => {
  for (const e of startedEdges) await e.stop()
  await origin.close()
  await rm(tmp, { recursive: true, force: true })
})

const sha256 = (b: Uint8Array): Uint8Array => createHash('sha256').update(b).digest()
const bytesOf = async (res: Response): Promise<Buffer> => Buffer.from(await res.arrayBuffer())
/** Byte equality via Buffer.equals: vitest's deep equality walks typed arrays element by element, slowly. */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

/** A request with the target sent exactly as given (fetch would normalise `..` away). */
async function raw(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        body += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('edge caching', () => {
  it('misses once, then hits without the origin', async () => {
    const first = await fetch(`${edge.url}/small.txt`)
    expect(first.status).toBe(200)
    expect(first.headers.get('x-cache')).toBe('MISS')
    expect(await first.text()).toBe(SMALL)
    const second = await fetch(`${edge.url}/small.txt`)
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(second.headers.get('age')).toMatch(/^\d+$/)
    expect(second.headers.get('content-type')).toBe('text/plain')
    expect(second.headers.get('cache-control')).toBe('public, max-age=3600')
    expect(await second.text()).toBe(SMALL)
    expect(origin.requests.get('/small.txt')).toBe(1)
    const stats = edge.stats()
    expect(stats.hits).toBeGreaterThanOrEqual(1)
    expect(stats.misses).toBeGreaterThanOrEqual(1)
    expect(stats.bytesServed).toBeGreaterThanOrEqual(2 * SMALL.length)
  })

  it('keys the cache by path and query', async () => {
    await (await fetch(`${edge.url}/q.txt?v=1`)).text()
    await (await fetch(`${edge.url}/q.txt?v=2`)).text()
    const again = await fetch(`${edge.url}/q.txt?v=1`)
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(origin.requests.get('/q.txt')).toBe(2)
  })

  it('stores responses without Cache-Control under the heuristic lifetime, which needs Last-Modified', async () => {
    await (await fetch(`${edge.url}/heuristic.txt`)).text()
    const again = await fetch(`${edge.url}/heuristic.txt`)
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(origin.requests.get('/heuristic.txt')).toBe(1)
    // No Last-Modified, no lifetime: kept for its ETag and revalidated on every use.
    await (await fetch(`${edge.url}/unlabelled.txt`)).text()
    const revalidated = await fetch(`${edge.url}/unlabelled.txt`)
    expect(revalidated.headers.get('x-cache')).toBe('REVALIDATED')
    expect(await revalidated.text()).toBe('no cache-control, no last-modified')
    expect(origin.requests.get('/unlabelled.txt')).toBe(2)
  })

  it('serves byte ranges from the cache with exact bytes', async () => {
    const cases: Array<[string, number, number]> = [
      ['bytes=0-99', 0, 99],
      ['bytes=16380-16399', 16_380, 16_399],
      ['bytes=99990-', 99_990, 99_999],
      ['bytes=-10', 99_990, 99_999],
      ['bytes=99990-200000', 99_990, 99_999]
    ]
    for (const [range, start, end] of cases) {
      const res = await fetch(`${edge.url}/big.bin`, { headers: { range } })
      expect(res.status, range).toBe(206)
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${BIG.length}`)
      expect(res.headers.get('content-length')).toBe(String(end - start + 1))
      expect(same(await bytesOf(res), BIG.subarray(start, end + 1))).toBe(true)
    }
    expect(origin.requests.get('/big.bin')).toBe(1)
  })

  it('answers 416 to an unsatisfiable range', async () => {
    for (const range of ['bytes=100000-', 'bytes=200000-300000', 'bytes=-0']) {
      const res = await fetch(`${edge.url}/big.bin`, { headers: { range } })
      expect(res.status, range).toBe(416)
      expect(res.headers.get('content-range')).toBe(`bytes */${BIG.length}`)
      await res.arrayBuffer()
    }
  })

  it('fills the whole object on a ranged miss, then serves the range', async () => {
    const res = await fetch(`${edge.url}/range-first.bin`, { headers: { range: 'bytes=50000-50009' } })
    expect(res.status).toBe(206)
    expect(res.headers.get('x-cache')).toBe('MISS')
    expect(same(await bytesOf(res), BIG.subarray(50_000, 50_010))).toBe(true)
    const toOrigin = origin.log.filter(r => r.url === '/range-first.bin')
    expect(toOrigin).toHaveLength(1)
    expect(toOrigin[0]?.headers.range).toBeUndefined()
    const full = await fetch(`${edge.url}/range-first.bin`)
    expect(full.headers.get('x-cache')).toBe('HIT')
    expect(same(await bytesOf(full), BIG)).toBe(true)
  })

  it('coalesces 20 concurrent misses into one origin request', async () => {
    const responses = await Promise.all(Array.from({ length: 20 }, async () => await fetch(`${edge.url}/slow.bin`)))
    const bodies = await Promise.all(responses.map(bytesOf))
    expect(responses.every(r => r.status === 200)).toBe(true)
    for (const body of bodies) expect(same(body, BIG)).toBe(true)
    expect(origin.requests.get('/slow.bin')).toBe(1)
  })

  it('does not store no-store or private responses', async () => {
    for (const path of ['/no-store.txt', '/private.txt']) {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${edge.url}${path}`)
        expect(res.status).toBe(200)
        expect(res.headers.get('x-cache')).toBe('MISS')
        expect(res.headers.get('access-control-allow-origin')).toBe('*')
        await res.text()
      }
      expect(origin.requests.get(path), path).toBe(2)
    }
  })

  it('gives each concurrent request for an uncacheable URL its own origin answer', async () => {
    origin.files['/slow-private.txt'] = { body: 'per-user', headers: { 'Cache-Control': 'private' }, delayMs: 100 }
    const responses = await Promise.all(
      Array.from({ length: 5 }, async () => await fetch(`${edge.url}/slow-private.txt`))
    )
    expect(await Promise.all(responses.map(async r => await r.text()))).toEqual(Array(5).fill('per-user'))
    expect(origin.requests.get('/slow-private.txt')).toBe(5)
  })

  it('passes objects over maxObjectBytes through without storing them', async () => {
    const small = await startEdge({ maxObjectBytes: 50_000 })
    origin.files['/too-big.bin'] = { body: BIG, headers: CACHEABLE }
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${small.url}/too-big.bin`)
      expect(res.headers.get('x-cache')).toBe('MISS')
      expect(same(await bytesOf(res), BIG)).toBe(true)
    }
    expect(origin.requests.get('/too-big.bin')).toBe(2)
    const manifest = await fetch(`${small.url}/_p2pcdn/manifest?url=/too-big.bin`)
    expect(manifest.status).toBe(409)
    expect(await manifest.json()).toEqual({ error: 'not cacheable: larger than maxObjectBytes', code: 'ERR_HTTP' })
  })

  it('answers HEAD from the cache with headers only', async () => {
    origin.files['/head.bin'] = { body: BIG, headers: CACHEABLE }
    const res = await fetch(`${edge.url}/head.bin`, { method: 'HEAD' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-length')).toBe(String(BIG.length))
    expect((await res.arrayBuffer()).byteLength).toBe(0)
    const get = await fetch(`${edge.url}/head.bin`)
    expect(get.headers.get('x-cache')).toBe('HIT')
    expect(same(await bytesOf(get), BIG)).toBe(true)
    expect(origin.requests.get('/head.bin')).toBe(1)
  })

  it('passes non-200 answers through unchanged', async () => {
    const gone = await fetch(`${edge.url}/gone.txt`)
    expect(gone.status).toBe(410)
    expect(await gone.text()).toBe('gone')
    const missing = await fetch(`${edge.url}/nope.txt`)
    expect(missing.status).toBe(404)
    await missing.text()
  })

  it('proxies other methods to the origin untouched', async () => {
    const res = await fetch(`${edge.url}/echo`, {
      method: 'POST',
      body: 'ping body',
      headers: { 'content-type': 'text/plain' }
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('x-echo-method')).toBe('POST')
    expect(res.headers.get('access-control-allow-origin')).toBe('*')
    expect(await res.text()).toBe('ping body')
  })

  it('answers If-None-Match from the cache with 304', async () => {
    const first = await fetch(`${edge.url}/small.txt`)
    const etag = first.headers.get('etag')
    await first.text()
    expect(etag).toBeTruthy()
    const res = await fetch(`${edge.url}/small.txt`, { headers: { 'if-none-match': etag ?? '' } })
    expect(res.status).toBe(304)
    expect(origin.requests.get('/small.txt')).toBe(1)
  })

  it('revalidates a stale entry with If-None-Match and keeps the body on 304', async () => {
    // The edge's freshness clock is Date.now(): faked, the entry goes stale when the test says.
    // It starts 2.1 s behind, so that once moved on it agrees again with the origin's Date
    // headers (real time), which the 304 refreshes the entry with.
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(Date.now() - 2100)
    try {
      origin.files['/short.txt'] = { body: 'short-lived', headers: { 'Cache-Control': 'max-age=1' } }
      expect(await (await fetch(`${edge.url}/short.txt`)).text()).toBe('short-lived')
      vi.advanceTimersByTime(2100)
      const res = await fetch(`${edge.url}/short.txt`)
      expect(await res.text()).toBe('short-lived')
      const toOrigin = origin.log.filter(r => r.url === '/short.txt')
      expect(toOrigin).toHaveLength(2)
      expect(toOrigin[1]?.headers['if-none-match']).toBeTruthy()
      expect((await fetch(`${edge.url}/short.txt`)).headers.get('x-cache')).toBe('HIT')
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('manifest endpoint', () => {
  it('builds a manifest whose chunk hashes match the bytes', async () => {
    const res = await fetch(`${edge.url}/_p2pcdn/manifest?url=${encodeURIComponent('/big.bin')}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const manifest = parseManifest(await res.text())
    expect(manifest.url).toBe(`${origin.url}/big.bin`)
    expect(manifest.size).toBe(BIG.length)
    expect(manifest.type).toBe('application/octet-stream')
    expect(manifest.etag).toMatch(/^".+"$/)
    expect(manifest.chunkSize).toBe(CHUNK)
    expect(manifest.chunks).toHaveLength(chunkCount(BIG.length, CHUNK))
    manifest.chunks.forEach((hash, i) => {
      expect(hash, `chunk ${i}`).toBe(toBase64Url(sha256(BIG.subarray(i * CHUNK, (i + 1) * CHUNK))))
    })
  })

  it('accepts an absolute origin URL and fills on demand, then the content is a hit', async () => {
    origin.files['/fresh.txt'] = { body: 'x'.repeat(5000), type: 'text/plain', headers: CACHEABLE }
    const res = await fetch(`${edge.url}/_p2pcdn/manifest?url=${encodeURIComponent(`${origin.url}/fresh.txt`)}`)
    expect(res.status).toBe(200)
    const manifest = parseManifest(await res.text())
    expect(manifest.type).toBe('text/plain')
    expect(manifest.size).toBe(5000)
    expect(manifest.chunks).toEqual([toBase64Url(sha256(Buffer.from('x'.repeat(5000))))])
    const content = await fetch(`${edge.url}/fresh.txt`)
    expect(content.headers.get('x-cache')).toBe('HIT')
    await content.text()
    expect(origin.requests.get('/fresh.txt')).toBe(1)
  })

  it('refuses URLs on another origin and bad input with ERR_PROTOCOL', async () => {
    for (const url of [
      'https://evil.example/big.bin',
      `${origin.url.replace('127.0.0.1', 'localhost')}/big.bin`,
      'big.bin',
      '/../etc/passwd',
      ''
    ]) {
      const res = await fetch(`${edge.url}/_p2pcdn/manifest?url=${encodeURIComponent(url)}`)
      expect(res.status, url).toBe(400)
      const body = (await res.json()) as { error: string; code: string }
      expect(body.code).toBe('ERR_PROTOCOL')
      expect(body.error).toBeTruthy()
    }
  })

  it('says why there is no manifest', async () => {
    const notFound = await fetch(`${edge.url}/_p2pcdn/manifest?url=/nope.txt`)
    expect(notFound.status).toBe(404)
    expect(await notFound.json()).toEqual({ error: 'origin answered 404', code: 'ERR_HTTP' })
    const gone = await fetch(`${edge.url}/_p2pcdn/manifest?url=/gone.txt`)
    expect(gone.status).toBe(502)
    expect(await gone.json()).toEqual({ error: 'origin answered 410', code: 'ERR_HTTP' })
    const noStore = await fetch(`${edge.url}/_p2pcdn/manifest?url=/no-store.txt`)
    expect(noStore.status).toBe(409)
    expect(await noStore.json()).toEqual({ error: 'not cacheable: no-store', code: 'ERR_HTTP' })
  })
})

describe('edge endpoints', () => {
  it('sends CORS headers on every response and answers preflights', async () => {
    for (const path of ['/small.txt', '/nope.txt', '/_p2pcdn/manifest?url=/small.txt', '/healthz', '/_p2pcdn/ping']) {
      const res = await fetch(`${edge.url}${path}`)
      expect(res.headers.get('access-control-allow-origin'), path).toBe('*')
      expect(res.headers.get('access-control-expose-headers'), path).toBe(
        'Content-Length, Content-Range, Content-Type, ETag, Age, X-Cache, X-P2PCDN-Region'
      )
      await res.arrayBuffer()
    }
    const pre = await fetch(`${edge.url}/big.bin`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://page.example',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'range'
      }
    })
    expect(pre.status).toBe(204)
    expect(pre.headers.get('access-control-allow-origin')).toBe('*')
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET, HEAD, OPTIONS')
    expect(pre.headers.get('access-control-allow-headers')).toBe('Range, If-Range, If-None-Match, Content-Type')
  })

  it('answers ping tiny, uncached and with its region', async () => {
    const res = await fetch(`${edge.url}/_p2pcdn/ping`)
    expect(res.status).toBe(204)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.headers.get('x-p2pcdn-region')).toBe('eu')
    expect(await res.text()).toBe('')
  })

  it('reports health', async () => {
    const res = await fetch(`${edge.url}/healthz`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ok: true, region: 'eu' })
  })

  it('serves the SDK and its source map, and says when it is not built', async () => {
    const missing = await fetch(`${edge.url}/p2pcdn.js`)
    expect(missing.status).toBe(503)
    expect(await missing.text()).toMatch(/SDK not built: run npm run build/)
    await writeFile(join(tmp, 'p2pcdn.js'), 'window.P2PCDN = {}\n')
    await writeFile(join(tmp, 'p2pcdn.js.map'), '{"version":3}')
    const sdk = await fetch(`${edge.url}/p2pcdn.js`)
    expect(sdk.status).toBe(200)
    expect(sdk.headers.get('content-type')).toMatch(/javascript/)
    expect(sdk.headers.get('access-control-allow-origin')).toBe('*')
    expect(await sdk.text()).toBe('window.P2PCDN = {}\n')
    const map = await fetch(`${edge.url}/p2pcdn.js.map`)
    expect(map.status).toBe(200)
    expect(await map.text()).toBe('{"version":3}')
  })

  it('refuses hostile request targets with 400 and never asks the origin', async () => {
    const before = origin.totalRequests()
    for (const path of [
      '/../etc/passwd',
      '/a/../../etc/passwd',
      '/%2e%2e/etc/passwd',
      '/a/%2E%2E/%2e%2E/x',
      '/a%2f..%2f..%2fetc',
      '/a\\..\\b',
      '//evil.example/x',
      'http://evil.example/big.bin',
      '/%zz'
    ]) {
      const res = await raw(edge.port, path)
      expect(res.status, path).toBe(400)
      expect(JSON.parse(res.body)).toMatchObject({ code: 'ERR_PROTOCOL' })
    }
    expect(origin.totalRequests()).toBe(before)
    // Absolute-form naming the origin itself is fine.
    expect((await raw(edge.port, `${origin.url}/small.txt`)).body).toBe(SMALL)
  })

  it('rejects bad options with a TypeError naming them', () => {
    expect(() => createEdge({} as EdgeInit)).toThrow(/origin/)
    expect(() => createEdge({ origin: 'not a url' })).toThrow(TypeError)
    expect(() => createEdge({ origin: 'ftp://x' })).toThrow(/origin/)
    expect(() => createEdge({ origin: origin.url, port: -1 })).toThrow(/port/)
    expect(() => createEdge({ origin: origin.url, tracker: 'http://x' })).toThrow(/tracker/)
    expect(() => createEdge({ origin: origin.url, chunkSize: 10 })).toThrow(/chunkSize/)
    expect(() => createEdge({ origin: origin.url, edgeId: 'eu1' })).toThrow(/edgeId and edgeSecret go together/)
    expect(() => createEdge({ origin: origin.url, edgeId: 'e u', edgeSecret: 'x'.repeat(16) })).toThrow(/edgeId/)
    expect(() => createEdge({ origin: origin.url, edgeId: 'eu1', edgeSecret: 'short' })).toThrow(
      /"edgeSecret": expected a string of at least 16/
    )
    expect(() => createEdge({ origin: origin.url, edgeId: 'eu1', edgeSecret: 'x'.repeat(16), edgeToken: 't' })).toThrow(
      /"edgeToken": not with edgeSecret/
    )
  })
})

describe('disk cache', () => {
  it('serves from disk after a restart without the origin', async () => {
    const cacheDir = join(tmp, 'cache')
    origin.files['/disk.bin'] = { body: BIG, headers: CACHEABLE }
    const first = await startEdge({ cacheDir })
    expect(same(await bytesOf(await fetch(`${first.url}/disk.bin`)), BIG)).toBe(true)
    const m1 = await (await fetch(`${first.url}/_p2pcdn/manifest?url=/disk.bin`)).text()
    await first.stop()
    const names = await readdir(cacheDir)
    expect(names).toHaveLength(1)
    expect(names[0]).toMatch(/^[0-9a-f]{64}\.entry$/)

    const second = await startEdge({ cacheDir })
    const res = await fetch(`${second.url}/disk.bin`, { headers: { range: 'bytes=10-19' } })
    expect(res.status).toBe(206)
    expect(res.headers.get('x-cache')).toBe('HIT')
    expect(same(await bytesOf(res), BIG.subarray(10, 20))).toBe(true)
    expect(await (await fetch(`${second.url}/_p2pcdn/manifest?url=/disk.bin`)).text()).toBe(m1)
    expect(origin.requests.get('/disk.bin')).toBe(1)
    await second.stop()
  })
})

describe('tracker registration', () => {
  interface FakeTracker {
    url: string
    messages: Array<Record<string, unknown>>
    sockets: Set<WebSocket>
    close: () => Promise<void>
  }
  const trackers: FakeTracker[] = []

  async function startFakeTracker(reply: (msg: Record<string, unknown>) => unknown): Promise<FakeTracker> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise<void>(resolve => wss.once('listening', () => resolve()))
    const messages: Array<Record<string, unknown>> = []
    const sockets = new Set<WebSocket>()
    wss.on('connection', ws => {
      sockets.add(ws)
      ws.on('close', () => sockets.delete(ws))
      ws.on('message', (data: Buffer) => {
        const msg = JSON.parse(data.toString('utf8')) as Record<string, unknown>
        messages.push(msg)
        const answer = reply(msg)
        if (answer !== undefined) ws.send(JSON.stringify(answer))
      })
    })
    const address = wss.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const t: FakeTracker = {
      url: `ws://127.0.0.1:${port}`,
      messages,
      sockets,
      close: async () => {
        for (const s of wss.clients) s.terminate()
        await new Promise<void>(resolve => wss.close(() => resolve()))
      }
    }
    trackers.push(t)
    return t
  }

  async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  }

  afterEach(async () => {
    for (const t of trackers.splice(0)) await t.close()
  })

  it('registers, reports load every heartbeat, and re-registers after a drop', async () => {
    const tracker = await startFakeTracker(msg =>
      msg.action === 'p2pcdn:edge-register' ? { action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 100 } : undefined
    )
    const e = await startEdge({ tracker: tracker.url, edgeToken: 'T0ken', region: 'ap' })
    const registers = (): Array<Record<string, unknown>> =>
      tracker.messages.filter(m => m.action === 'p2pcdn:edge-register')
    const loads = (): Array<Record<string, unknown>> => tracker.messages.filter(m => m.action === 'p2pcdn:edge-load')
    await until('register', () => registers().length === 1)
    expect(registers()[0]).toEqual({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: 'T0ken',
      url: e.url,
      region: 'ap',
      capacity: 0
    })

    await until('two load reports', () => loads().length >= 2)
    // Nothing asked of it yet: nothing open, nothing served, no hits (what it did is checked in the next test).
    expect(loads()[0]).toEqual({ action: 'p2pcdn:edge-load', v: 1, connections: 0, bytesPerSec: 0, hitRatio: 0 })

    for (const s of tracker.sockets) s.terminate()
    await until('re-register', () => registers().length === 2)
    const loadsBefore = loads().length
    await until('load after re-register', () => loads().length > loadsBefore)
    await e.stop()
    // That stop() ends the heartbeat is shown with fake timers in the next test, not by waiting here.
    await until('the socket to close', () => tracker.sockets.size === 0)
  })

  it('reports what it did: open client connections, body bytes per second since the last report, hit ratio', async () => {
    // The edge reads Date.now() for its rate and reports on a setInterval: both faked, so
    // each report comes when the test says and covers exactly the milliseconds it says.
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] })
    const sockets: Socket[] = []
    try {
      origin.files['/load.bin'] = { body: BIG, headers: CACHEABLE }
      const tracker = await startFakeTracker(msg =>
        msg.action === 'p2pcdn:edge-register' ? { action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 100 } : undefined
      )
      const e = await startEdge({ tracker: tracker.url, edgeToken: 'T0ken' })
      const loads = (): Array<Record<string, unknown>> => tracker.messages.filter(m => m.action === 'p2pcdn:edge-load')
      // Real-time polling (setTimeout is not faked) for what the edge does on its own.
      const settle = async (what: string, check: () => boolean): Promise<void> => {
        for (let i = 0; i < 250 && !check(); i++) await new Promise(resolve => setTimeout(resolve, 20))
        if (!check()) throw new Error(`timed out waiting for ${what}`)
      }
      const report = async (): Promise<Record<string, unknown>> => {
        const n = loads().length
        vi.advanceTimersByTime(100)
        await settle('a load report', () => loads().length > n)
        return loads()[n]!
      }
      await settle('the heartbeat timer', () => vi.getTimerCount() > 0)
      expect(await report()).toMatchObject({ connections: 0, bytesPerSec: 0, hitRatio: 0 })

      // One miss and three hits, each on its own connection, closed once answered.
      for (let i = 0; i < 4; i++) expect((await getOnce(`${e.url}/load.bin`)).length).toBe(BIG.length)
      await settle('the connections to close', () => e.stats().connections === 0)
      // 4 x 100 000 body bytes in the 100 ms since the last report.
      expect(await report()).toMatchObject({ connections: 0, bytesPerSec: 4_000_000, hitRatio: 0.75 })

      // Three clients connected and idle: counted, and nothing served since.
      for (let i = 0; i < 3; i++) sockets.push(connect(e.port, '127.0.0.1'))
      await settle('three connections', () => e.stats().connections === 3)
      expect(await report()).toMatchObject({ connections: 3, bytesPerSec: 0, hitRatio: 0.75 })

      // Stopped: its heartbeat is gone (no faked interval left), so no time can bring another report.
      await e.stop()
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      for (const socket of sockets) socket.destroy()
      vi.useRealTimers()
    }
  })

  it('registers again on the same socket when the tracker refuses its load report (dropped after late heartbeats)', async () => {
    let refused = false
    const tracker = await startFakeTracker(msg => {
      if (msg.action === 'p2pcdn:edge-register') return { action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 100 }
      if (msg.action === 'p2pcdn:edge-load' && !refused) {
        refused = true
        return {
          'failure reason': 'edge load refused: this connection has no registered edge',
          action: 'p2pcdn:edge-load',
          code: 'ERR_PROTOCOL',
          reason: 'edge-not-registered'
        }
      }
      return undefined
    })
    const e = await startEdge({ tracker: tracker.url, edgeToken: 'T0ken', region: 'ap' })
    const actions = (): unknown[] => tracker.messages.map(m => m.action)
    await until('register, refused load, register again, load', () => {
      const a = actions()
      const again = a.indexOf('p2pcdn:edge-register', a.indexOf('p2pcdn:edge-load'))
      return again > 0 && a.indexOf('p2pcdn:edge-load', again) > again
    })
    expect(tracker.sockets.size).toBe(1)
    await e.stop()
  })

  it('keeps reporting load when the tracker refuses a report for another reason (rate limit): it branches on the reason, not the action', async () => {
    let refused = 0
    const tracker = await startFakeTracker(msg => {
      if (msg.action === 'p2pcdn:edge-register') return { action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 50 }
      if (msg.action === 'p2pcdn:edge-load' && refused++ === 0) {
        return {
          'failure reason': 'too many messages: at most 20 per second on one connection',
          action: 'p2pcdn:edge-load',
          code: 'ERR_PROTOCOL',
          reason: 'rate-limited'
        }
      }
      return undefined
    })
    const e = await startEdge({ tracker: tracker.url, edgeToken: 'T0ken', region: 'ap' })
    const actions = (): unknown[] => tracker.messages.map(m => m.action)
    await until('three load reports', () => actions().filter(a => a === 'p2pcdn:edge-load').length >= 3)
    expect(actions().filter(a => a === 'p2pcdn:edge-register')).toHaveLength(1)
    await e.stop()
  })

  it('registers with its id and own secret, and answers the challenge with an HMAC keyed by the secret', async () => {
    const tracker = await startFakeTracker(msg =>
      msg.action === 'p2pcdn:edge-register' ? { action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 1000 } : undefined
    )
    const secret = 'this-edge-secret-0123'
    const e = await startEdge({ tracker: tracker.url, edgeId: 'ap1', edgeSecret: secret, region: 'ap' })
    await until('register', () => tracker.messages.some(m => m.action === 'p2pcdn:edge-register'))
    expect(tracker.messages.find(m => m.action === 'p2pcdn:edge-register')).toEqual({
      action: 'p2pcdn:edge-register',
      v: 1,
      id: 'ap1',
      token: secret,
      url: e.url,
      region: 'ap',
      capacity: 0
    })
    const nonce = 'N'.repeat(43)
    const res = await fetch(`${e.url}/_p2pcdn/challenge?nonce=${nonce}`)
    expect(res.status).toBe(200)
    const key = createHash('sha256').update(secret).digest()
    const mac = createHmac('sha256', key).update(`p2pcdn-edge-challenge:v1\nap1\n${nonce}`).digest('base64url')
    expect(await res.json()).toEqual({ v: 1, id: 'ap1', mac })
    for (const bad of [
      '',
      '?nonce=',
      '?nonce=abc',
      `?nonce=${'a'.repeat(129)}`,
      '?nonce=a%2Fb%2Fc%2Fd%2Fe%2Ff%2Fg%2Fh%2Fi'
    ]) {
      expect((await fetch(`${e.url}/_p2pcdn/challenge${bad}`)).status).toBe(400)
    }
    expect((await fetch(`${e.url}/_p2pcdn/challenge?nonce=${nonce}`, { method: 'POST' })).status).toBe(405)
    await e.stop()
  })

  it('has no challenge answer without a secret or token', async () => {
    const e = await startEdge({})
    expect((await fetch(`${e.url}/_p2pcdn/challenge?nonce=${'N'.repeat(43)}`)).status).toBe(404)
    await e.stop()
  })

  it('logs a refused registration as an error', async () => {
    const tracker = await startFakeTracker(() => ({
      'failure reason': 'invalid edge token',
      action: 'p2pcdn:edge-register',
      code: 'ERR_PROTOCOL'
    }))
    const errors: Array<{ event: string; fields?: Record<string, unknown> }> = []
    const logger: Logger = {
      debug() {},
      info() {},
      warn() {},
      error: (event, fields) => {
        errors.push({ event, fields })
      }
    }
    const e = await startEdge({ tracker: tracker.url, edgeToken: 'wrong', logger })
    await until('error log', () => errors.length > 0)
    expect(errors[0]).toMatchObject({
      event: 'tracker-failure',
      fields: { reason: 'invalid edge token', code: 'ERR_PROTOCOL' }
    })
    await e.stop()
  })
})

/** GET on a connection of its own, closed after the response: the body. */
async function getOnce(url: string): Promise<Buffer> {
  return await new Promise<Buffer>((resolve, reject) => {
    http
      .get(url, { agent: false, headers: { connection: 'close' } }, res => {
        const parts: Buffer[] = []
        res.on('data', (chunk: Buffer) => parts.push(chunk))
        res.on('end', () => resolve(Buffer.concat(parts)))
        res.on('error', reject)
      })
      .on('error', reject)
  })
}
