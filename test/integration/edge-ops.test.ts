/**
 * Operating the edge: purge with a bearer token, /healthz, /metrics, the JSON access
 * log, HTTPS with --cert/--key, the send-rate cap, and hostile input that must get a
 * clear 4xx without storing anything wrongly or stopping the process.
 */
import https from 'node:https'
import net from 'node:net'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEdge } from '../../edge/src/index.js'
import type { Edge, EdgeInit } from '../../edge/src/index.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { startOrigin } from '../helpers/origin.js'
import { selfSignedCert } from '../helpers/tls.js'
import type { TestOrigin } from '../helpers/origin.js'

const HOUR = { 'Cache-Control': 'public, max-age=3600' }
const TOKEN = 'purge-secret'
let origin: TestOrigin
let edge: Edge
let tmp: string
const lines: string[] = []
const extra: Edge[] = []

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'p2pcdn-edge-ops-'))
  origin = await startOrigin({})
  for (const p of ['/p/a', '/p/b', '/p/c', '/q/a', '/log', '/m'])
    origin.files[p] = { body: `body of ${p}`, headers: HOUR }
  edge = createEdge({
    origin: origin.url,
    port: 0,
    purgeToken: TOKEN,
    cacheDir: join(tmp, 'cache'),
    accessLog: chunk => {
      lines.push(...chunk.split('\n').filter(Boolean))
    }
  })
  await edge.start()
})

afterAll(async () => {
  for (const e of extra) await e.stop()
  await edge.stop()
  await origin.close()
  await rm(tmp, { recursive: true, force: true })
})

async function startEdge(init: Partial<EdgeInit>): Promise<Edge> {
  const e = createEdge({ origin: origin.url, port: 0, ...init })
  extra.push(e)
  await e.start()
  return e
}

const cacheOf = async (path: string): Promise<string | null> => {
  const res = await fetch(edge.url + path)
  await res.arrayBuffer()
  return res.headers.get('x-cache')
}
const purge = async (body: unknown, token: string | null = TOKEN): Promise<Response> =>
  await fetch(`${edge.url}/_p2pcdn/purge`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: token === null ? {} : { authorization: `Bearer ${token}` }
  })

/** Send raw bytes (asking the server to close afterwards) and read the status line of the answer. */
async function rawStatus(port: number, request: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(request.replace('\r\n', '\r\nConnection: close\r\n'))
    )
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => {
      text += c
    })
    socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)))
    socket.on('error', reject)
  })
}

describe('purge', () => {
  it('refuses without the bearer token', async () => {
    expect((await purge({ url: '/p/a' }, null)).status).toBe(401)
    const wrong = await purge({ url: '/p/a' }, 'nope')
    expect(wrong.status).toBe(401)
    expect(((await wrong.json()) as { code: string }).code).toBe('ERR_PROTOCOL')
    expect((await fetch(`${edge.url}/_p2pcdn/purge`)).status).toBe(405)
  })

  it('purges one URL (path or absolute) and a prefix', async () => {
    for (const p of ['/p/a', '/p/b', '/p/c', '/q/a']) await cacheOf(p)
    const one = await purge({ url: '/p/a' })
    expect(one.status).toBe(200)
    expect(await one.json()).toEqual({ purged: 1 })
    expect(await cacheOf('/p/a')).toBe('MISS')
    // Refilled by the MISS above; an absolute origin URL names it too.
    expect(await (await purge({ url: `${origin.url}/p/a` })).json()).toEqual({ purged: 1 })
    expect(await (await purge({ prefix: '/p/' })).json()).toEqual({ purged: 2 })
    for (const p of ['/p/a', '/p/b', '/p/c']) expect(await cacheOf(p), p).toBe('MISS')
    expect(await cacheOf('/q/a')).toBe('HIT')
    expect((await purge({ url: 'http://elsewhere.example/p/a' })).status).toBe(400)
    expect((await purge({ nothing: true })).status).toBe(400)
  })

  it('keeps a fill that was running during the purge out of the cache', async () => {
    let release!: () => void
    const held = new Promise<void>(resolve => {
      release = resolve
    })
    let calls = 0
    origin.files['/p/racing'] = {
      body: '',
      handler(_req, res) {
        calls++
        res.writeHead(200, { ...HOUR, 'Content-Length': '2' })
        res.write('v')
        void held.then(() => res.end(String(calls)))
      }
    }
    const first = fetch(`${edge.url}/p/racing`).then(async r => await r.text())
    for (let i = 0; i < 200 && calls === 0; i++) await new Promise(resolve => setTimeout(resolve, 5))
    expect((await purge({ url: '/p/racing' })).status).toBe(200)
    release()
    expect(await first).toBe('v1')
    expect(await cacheOf('/p/racing')).toBe('MISS')
    expect(calls).toBe(2)
  })

  it('stores the manifest with the object, carrying its validator, and drops it with the object', async () => {
    origin.files['/p/versioned'] = { body: 'version one', headers: HOUR }
    const res = await fetch(`${edge.url}/p/versioned`)
    await res.arrayBuffer()
    const m1 = (await (await fetch(`${edge.url}/_p2pcdn/manifest?url=/p/versioned`)).json()) as {
      etag: string
      size: number
    }
    expect(m1.etag).toBe(res.headers.get('etag'))
    expect(m1.size).toBe('version one'.length)
    origin.files['/p/versioned'] = { body: 'version two!', headers: HOUR }
    await purge({ url: '/p/versioned' })
    const m2 = (await (await fetch(`${edge.url}/_p2pcdn/manifest?url=/p/versioned`)).json()) as {
      etag: string
      size: number
    }
    expect(m2.etag).not.toBe(m1.etag)
    expect(m2.size).toBe('version two!'.length)
    expect(await (await fetch(`${edge.url}/p/versioned`)).text()).toBe('version two!')
  })

  it('is disabled without a configured token', async () => {
    const plain = await startEdge({})
    expect((await fetch(`${plain.url}/_p2pcdn/purge`, { method: 'POST', body: '{}' })).status).toBe(404)
  })
})

describe('observability', () => {
  it('reports health and Prometheus metrics', async () => {
    const health = await fetch(`${edge.url}/healthz`)
    expect(health.status).toBe(200)
    expect(((await health.json()) as { ok: boolean }).ok).toBe(true)
    await cacheOf('/m')
    await cacheOf('/m')
    const metrics = await fetch(`${edge.url}/metrics`)
    expect(metrics.headers.get('content-type')).toMatch(/text\/plain/)
    const text = await metrics.text()
    const value = (name: string): number =>
      Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
    expect(value('p2pcdn_edge_cache_hits_total')).toBeGreaterThanOrEqual(1)
    expect(value('p2pcdn_edge_cache_misses_total')).toBeGreaterThanOrEqual(1)
    expect(value('p2pcdn_edge_bytes_served_total')).toBeGreaterThan(0)
    expect(value('p2pcdn_edge_origin_requests_total')).toBeGreaterThanOrEqual(1)
    for (const name of [
      'p2pcdn_edge_cache_stale_total',
      'p2pcdn_edge_revalidations_total',
      'p2pcdn_edge_origin_latency_seconds_count',
      'p2pcdn_edge_cache_memory_bytes'
    ]) {
      expect(text).toContain(name)
    }
  })

  it('writes one JSON access-log line per request', async () => {
    lines.length = 0
    await cacheOf('/log')
    await cacheOf('/log')
    await fetch(`${edge.url}/nothing-here`).then(async r => await r.arrayBuffer())
    for (let i = 0; i < 100 && lines.length < 3; i++) await new Promise(resolve => setTimeout(resolve, 10))
    const entries = lines.map(
      l => JSON.parse(l) as { method: string; url: string; status: number; cache: string; bytes: number }
    )
    expect(entries.map(e => [e.url, e.status, e.cache])).toEqual([
      ['/log', 200, 'MISS'],
      ['/log', 200, 'HIT'],
      ['/nothing-here', 404, 'MISS']
    ])
    expect(entries[1]?.bytes).toBe('body of /log'.length)
  })
})

describe('TLS and send-rate cap', () => {
  it('serves HTTPS with a certificate and key', async () => {
    const { cert, key } = await selfSignedCert()
    const secure = await startEdge({ tls: { cert, key } })
    expect(secure.url.startsWith('https://')).toBe(true)
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`${secure.url}/p/b`, { ca: cert }, res => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (c: string) => {
            text += c
          })
          res.on('end', () => resolve(text))
        })
        .on('error', reject)
    })
    expect(body).toBe('body of /p/b')
  })

  it('never sends faster than --max-bytes-per-sec, and sends every byte', async () => {
    const body = Buffer.from(deterministicBytes(300_000, 'throttle'))
    origin.files['/slow-lane'] = { body, headers: HOUR }
    const capped = await startEdge({ maxBytesPerSec: 1_000_000 })
    await (await fetch(`${capped.url}/slow-lane`)).arrayBuffer()
    const started = performance.now()
    const both = await Promise.all(
      [0, 1].map(async () => Buffer.from(await (await fetch(`${capped.url}/slow-lane`)).arrayBuffer()))
    )
    const seconds = (performance.now() - started) / 1000
    for (const got of both) expect(got.equals(body)).toBe(true)
    // 600 KB at 1 MB/s with a 50 ms burst: at least about half a second. (A lower bound
    // only: a slow machine makes it longer, never shorter.)
    expect(seconds).toBeGreaterThan(0.5)
  })
})

describe('hostile input', () => {
  it('refuses hostile targets and headers with a clear 4xx and keeps serving', async () => {
    const port = edge.port
    const cases: Array<[string, number]> = [
      ['GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET /a/..%2f..%2fetc HTTP/1.1\r\nHost: x\r\n\r\n', 400],
      ['GET http://elsewhere.example/p/a HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n', 400],
      [`GET /p/a HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['POST /p/a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['GET /p/a HTTP/1.1\r\nHost: x\r\nRange: bytes=oops\r\n\r\n', 200],
      // Hits on connections that must close (the pre-serialized head says keep-alive).
      ['GET /q/a HTTP/1.1\r\nHost: x\r\n\r\n', 200],
      ['GET /q/a HTTP/1.0\r\n\r\n', 200]
    ]
    for (const [request, status] of cases) expect(await rawStatus(port, request), request.slice(0, 60)).toBe(status)
    expect(await cacheOf('/q/a')).toBe('HIT')
    const names = await readdir(join(tmp, 'cache'))
    for (const name of names) expect(name).toMatch(/^[0-9a-f]{64}\.entry(\.tmp-[0-9a-f]+)?$/)
    expect(origin.log.some(r => r.url.includes('etc'))).toBe(false)
  })
})
