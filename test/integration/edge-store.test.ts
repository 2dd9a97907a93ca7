/**
 * The edge's store: memory and disk byte caps with LRU eviction, entries verified on
 * read, a restart that keeps the cache, a SIGKILL during 50 fills that never leaves a
 * truncated or mixed entry, streaming to the first client while filling, short bodies
 * never stored, and ranges (multipart, If-Range) served from it.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fromBase64Url, parseManifest } from '../../protocol/src/index.js'
import { createEdge } from '../../edge/src/index.js'
import type { Edge, EdgeInit } from '../../edge/src/index.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { startOrigin } from '../helpers/origin.js'
import type { TestOrigin } from '../helpers/origin.js'

const HOUR = { 'Cache-Control': 'public, max-age=3600' }
let origin: TestOrigin
let tmp: string
const edges: Edge[] = []

beforeAll(async () => {
  origin = await startOrigin({})
  tmp = await mkdtemp(join(tmpdir(), 'p2pcdn-edge-store-'))
})

afterAll(async () => {
  for (const e of edges) await e.stop()
  await origin.close()
  await rm(tmp, { recursive: true, force: true })
})

async function startEdge(init: Partial<EdgeInit> = {}): Promise<Edge> {
  const e = createEdge({ origin: origin.url, port: 0, chunkSize: 16 * 1024, ...init })
  edges.push(e)
  await e.start()
  return e
}

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)
async function get(
  e: Edge,
  path: string,
  headers: Record<string, string> = {}
): Promise<{ status: number; cache: string | null; body: Buffer; headers: Headers }> {
  const res = await fetch(e.url + path, { headers })
  return {
    status: res.status,
    cache: res.headers.get('x-cache'),
    headers: res.headers,
    body: Buffer.from(await res.arrayBuffer())
  }
}

describe('memory and disk stores', () => {
  it('evicts the least recently used object when memory is over its byte cap', async () => {
    const e = await startEdge({ maxMemoryBytes: 100_000 })
    for (const name of ['a', 'b', 'c'])
      origin.files[`/lru-${name}`] = { body: deterministicBytes(40_000, name), headers: HOUR }
    await get(e, '/lru-a')
    await get(e, '/lru-b')
    await get(e, '/lru-a') // a is now more recent than b
    await get(e, '/lru-c') // over 100 KB: b goes
    expect((await get(e, '/lru-a')).cache).toBe('HIT')
    expect((await get(e, '/lru-c')).cache).toBe('HIT')
    expect((await get(e, '/lru-b')).cache).toBe('MISS')
    expect(origin.requests.get('/lru-b')).toBe(2)
  })

  it('keeps the disk under its byte cap, and a restart finds what remains', async () => {
    const cacheDir = join(tmp, 'disk-cap')
    // Memory holds one object (a fill needs room for it): the rest of the hits come from disk.
    const first = await startEdge({ cacheDir, maxMemoryBytes: 50_000, maxDiskBytes: 100_000 })
    for (const name of ['a', 'b', 'c']) {
      origin.files[`/cap-${name}`] = { body: deterministicBytes(40_000, `cap-${name}`), headers: HOUR }
      await get(first, `/cap-${name}`)
    }
    await first.stop()
    const names = await readdir(cacheDir)
    expect(names).toHaveLength(2)
    let bodyBytes = 0
    for (const name of names) bodyBytes += (await stat(join(cacheDir, name))).size
    expect(bodyBytes).toBeLessThan(100_000 + 2 * 4096)

    const second = await startEdge({ cacheDir, maxMemoryBytes: 50_000, maxDiskBytes: 100_000 })
    const c = await get(second, '/cap-c')
    expect(c.cache).toBe('HIT')
    expect(c.body.equals(buf(deterministicBytes(40_000, 'cap-c')))).toBe(true)
    expect((await get(second, '/cap-a')).cache).toBe('MISS')
    expect(origin.requests.get('/cap-a')).toBe(2)
  })

  it('drops a damaged entry file instead of serving it', async () => {
    const cacheDir = join(tmp, 'damaged')
    const body = deterministicBytes(30_000, 'damaged')
    origin.files['/damaged'] = { body, headers: HOUR }
    const first = await startEdge({ cacheDir })
    await get(first, '/damaged')
    await first.stop()
    const [name] = await readdir(cacheDir)
    const file = join(cacheDir, name ?? '')
    const raw = await readFile(file)
    raw[raw.length - 100] = (raw[raw.length - 100] ?? 0) ^ 0xff
    await writeFile(file, raw)
    await writeFile(join(cacheDir, `${name ?? ''}.tmp-leftover`), 'half a write')

    const second = await startEdge({ cacheDir })
    expect((await readdir(cacheDir)).some(n => n.includes('.tmp-'))).toBe(false)
    const res = await get(second, '/damaged')
    expect(res.cache).toBe('MISS')
    expect(res.body.equals(buf(body))).toBe(true)
    expect(origin.requests.get('/damaged')).toBe(2)
  })
})

describe('filling', () => {
  it('streams a large object to the first client while it is still arriving', async () => {
    const body = buf(deterministicBytes(1_000_000, 'stream'))
    let release!: () => void
    const held = new Promise<void>(resolve => {
      release = resolve
    })
    let originDone = false
    origin.files['/stream'] = {
      body: '',
      handler(_req, res) {
        res.writeHead(200, { ...HOUR, 'Content-Length': String(body.length) })
        res.write(body.subarray(0, 100_000))
        void held.then(() => {
          originDone = true
          res.end(body.subarray(100_000))
        })
      }
    }
    const e = await startEdge()
    const res = await fetch(`${e.url}/stream`)
    expect(res.status).toBe(200)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const parts: Uint8Array[] = []
    let got = 0
    while (got < 100_000) {
      const { value, done } = await reader.read()
      if (done) break
      parts.push(value)
      got += value.length
    }
    // The first 100 KB arrived while the origin still held the rest back.
    expect(originDone).toBe(false)
    expect(got).toBe(100_000)
    release()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      parts.push(value)
    }
    expect(Buffer.concat(parts).equals(body)).toBe(true)
    expect((await get(e, '/stream')).cache).toBe('HIT')
    expect(origin.requests.get('/stream')).toBe(1)
  })

  it('never stores a body shorter than its Content-Length', async () => {
    const body = buf(deterministicBytes(20_000, 'short'))
    origin.files['/short'] = {
      body: '',
      handler(_req, res) {
        res.writeHead(200, { ...HOUR, 'Content-Length': String(body.length) })
        res.write(body.subarray(0, 5000))
        setImmediate(() => res.socket?.destroy())
      }
    }
    const e = await startEdge()
    await expect((async () => await (await fetch(`${e.url}/short`)).arrayBuffer())()).rejects.toThrow()
    origin.files['/short'] = { body, headers: HOUR }
    const second = await get(e, '/short')
    expect(second.cache).toBe('MISS')
    expect(second.body.equals(body)).toBe(true)
    expect((await get(e, '/short')).cache).toBe('HIT')
    expect(origin.requests.get('/short')).toBe(2)
  })
})

describe('ranges', () => {
  const body = buf(deterministicBytes(50_000, 'ranges'))
  let e: Edge
  beforeAll(async () => {
    origin.files['/r.bin'] = { body, headers: HOUR, type: 'video/mp4' }
    e = await startEdge()
    await get(e, '/r.bin')
  })

  it('answers several ranges with multipart/byteranges from the cache', async () => {
    const res = await get(e, '/r.bin', { Range: 'bytes=0-9, 100-199, -50' })
    expect(res.status).toBe(206)
    const type = res.headers.get('content-type') ?? ''
    const boundary = /boundary=(\S+)/.exec(type)?.[1]
    expect(type.startsWith('multipart/byteranges')).toBe(true)
    const text = res.body.toString('latin1')
    const parts = text.split(`--${boundary ?? ''}`).slice(1, -1)
    expect(parts).toHaveLength(3)
    const expected = [
      [0, 9],
      [100, 199],
      [49_950, 49_999]
    ] as const
    parts.forEach((part, i) => {
      const [start, end] = expected[i] as readonly [number, number]
      const [head = '', payload = ''] = part.split('\r\n\r\n')
      expect(head).toContain(`content-range: bytes ${start}-${end}/50000`)
      expect(head).toContain('content-type: video/mp4')
      expect(Buffer.from(payload.slice(0, -2), 'latin1').equals(body.subarray(start, end + 1))).toBe(true)
    })
    expect(Number(res.headers.get('content-length'))).toBe(res.body.length)
  })

  it('honours If-Range: a matching validator gets the range, another the whole object', async () => {
    const etag = (await get(e, '/r.bin')).headers.get('etag') ?? ''
    const match = await get(e, '/r.bin', { Range: 'bytes=10-19', 'If-Range': etag })
    expect(match.status).toBe(206)
    expect(match.body.equals(body.subarray(10, 20))).toBe(true)
    const stale = await get(e, '/r.bin', { Range: 'bytes=10-19', 'If-Range': '"old"' })
    expect(stale.status).toBe(200)
    expect(stale.body.equals(body)).toBe(true)
  })

  it('passes a Range miss on an object over maxObjectBytes through with the range', async () => {
    origin.files['/huge.bin'] = { body, headers: HOUR }
    const small = await startEdge({ maxObjectBytes: 10_000 })
    const res = await get(small, '/huge.bin', { Range: 'bytes=100-109' })
    expect(res.status).toBe(206)
    expect(res.body.equals(body.subarray(100, 110))).toBe(true)
    expect(origin.log.filter(r => r.url === '/huge.bin').at(-1)?.headers.range).toBe('bytes=100-109')
  })

  it('answers 416 when no range is satisfiable and ignores a malformed Range', async () => {
    const bad = await get(e, '/r.bin', { Range: 'bytes=60000-70000' })
    expect(bad.status).toBe(416)
    expect(bad.headers.get('content-range')).toBe('bytes */50000')
    for (const range of [
      'bytes=abc',
      'chars=0-1',
      'bytes=5-1',
      `bytes=${Array.from({ length: 40 }, (_, i) => `${i}-${i}`).join(',')}`
    ]) {
      const res = await get(e, '/r.bin', { Range: range })
      expect(res.status, range).toBe(200)
      expect(res.body.length).toBe(body.length)
    }
    expect(origin.requests.get('/r.bin')).toBe(1)
  })
})

describe('crash safety', () => {
  const OBJECTS = 50
  const bytesOf = (i: number, version: string): Buffer =>
    buf(deterministicBytes(200_000 + i * 1000, `crash-${version}-${i}`))

  async function spawnEdge(cacheDir: string): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'edge-crash-child.ts'),
        '--origin',
        origin.url,
        '--port',
        '0',
        '--cache-dir',
        cacheDir,
        '--access-log',
        'off'
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    )
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
    const url = await new Promise<string>((resolve, reject) => {
      lines.on('line', line => {
        const msg = JSON.parse(line) as { event?: string; url?: string }
        if (msg.event === 'listening' && msg.url !== undefined) resolve(msg.url)
      })
      child.once('exit', code => reject(new Error(`edge exited with ${String(code)}`)))
    })
    return { child, url }
  }

  it('after a SIGKILL during 50 fills, a restart never serves a truncated or mixed entry', async () => {
    const cacheDir = join(tmp, 'crash')
    // Half answer at once, half are still on their way when the edge dies.
    for (let i = 0; i < OBJECTS; i++)
      origin.files[`/crash/${i}`] = { body: bytesOf(i, 'v1'), headers: HOUR, delayMs: i < OBJECTS / 2 ? 0 : 3000 }
    const first = await spawnEdge(cacheDir)
    let completed = 0
    let killed!: () => void
    const killedNow = new Promise<void>(resolve => {
      killed = resolve
    })
    const fills = Array.from({ length: OBJECTS }, async (_, i) => {
      try {
        const res = await fetch(`${first.url}/crash/${i}`)
        await res.arrayBuffer()
        if (++completed === OBJECTS / 2) killed()
      } catch {}
    })
    await killedNow
    // Kill once at least one entry reached the disk, so the restart has something to serve.
    for (let i = 0; i < 500 && !(await readdir(cacheDir)).some(n => n.endsWith('.entry')); i++)
      await new Promise(resolve => setTimeout(resolve, 10))
    first.child.kill('SIGKILL')
    await Promise.all(fills)
    await new Promise(resolve =>
      first.child.exitCode !== null || first.child.signalCode !== null
        ? resolve(undefined)
        : first.child.once('exit', resolve)
    )

    // New content at the origin: a cached entry must be exactly v1, a refill exactly v2.
    for (let i = 0; i < OBJECTS; i++) origin.files[`/crash/${i}`] = { body: bytesOf(i, 'v2'), headers: HOUR }
    const second = await spawnEdge(cacheDir)
    try {
      expect((await readdir(cacheDir)).some(n => n.includes('.tmp-'))).toBe(false)
      let hits = 0
      for (let i = 0; i < OBJECTS; i++) {
        const res = await fetch(`${second.url}/crash/${i}`)
        const body = Buffer.from(await res.arrayBuffer())
        const cache = res.headers.get('x-cache')
        const expected = cache === 'HIT' ? bytesOf(i, 'v1') : bytesOf(i, 'v2')
        expect(body.equals(expected), `object ${i} (${String(cache)})`).toBe(true)
        if (cache === 'HIT') hits++
        // The manifest describes exactly these bytes.
        const manifest = parseManifest(await (await fetch(`${second.url}/_p2pcdn/manifest?url=/crash/${i}`)).text())
        expect(manifest.size).toBe(body.length)
        manifest.chunks.forEach((hash, c) => {
          const chunk = body.subarray(c * manifest.chunkSize, (c + 1) * manifest.chunkSize)
          expect(
            createHash('sha256')
              .update(chunk)
              .digest()
              .equals(Buffer.from(fromBase64Url(hash) ?? []))
          ).toBe(true)
        })
      }
      expect(hits).toBeGreaterThan(0)
    } finally {
      second.child.kill('SIGTERM')
      await new Promise(resolve => second.child.once('exit', resolve))
    }
  })
})
