/**
 * The edge and `p2pcdn manifest` keep to the manifest bounds (constants.ts, issue 11).
 * At the smallest chunk size (1 KiB) MAX_MANIFEST_CHUNKS is 64 MiB: a body of exactly
 * that gets a manifest of 65,536 chunks; one byte more, with Content-Length or streamed
 * without one, gets none (409, saying why), while the resource itself is still served
 * from the cache. The CLI refuses such a file before reading it.
 */
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { MAX_MANIFEST_CHUNKS, MIN_CHUNK_SIZE_BYTES, parseManifest } from '../../protocol/src/index.js'
import { createEdge, type Edge } from '../../edge/src/index.js'
import { manifestMain } from '../../edge/src/manifest-cli.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'

const AT_BOUND = MAX_MANIFEST_CHUNKS * MIN_CHUNK_SIZE_BYTES
// Zeros: the test is about sizes, and zeros cost nothing to make.
const AT = Buffer.alloc(AT_BOUND)
const OVER = Buffer.alloc(AT_BOUND + 1)
const CACHEABLE = { 'Cache-Control': 'public, max-age=3600' }

let origin: TestOrigin
let edge: Edge
let tmp: string

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'p2pcdn-limits-'))
  origin = await startOrigin({
    '/at.bin': { body: AT, headers: CACHEABLE },
    '/over.bin': { body: OVER, headers: CACHEABLE },
    '/over-streamed.bin': {
      body: OVER,
      // No Content-Length: the fill learns the size only as the body streams.
      handler: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=3600' })
        let at = 0
        const pump = (): void => {
          while (at < OVER.length) {
            const slice = OVER.subarray(at, at + 256 * 1024)
            at += slice.length
            if (!res.write(slice)) {
              res.once('drain', pump)
              return
            }
          }
          res.end()
        }
        pump()
      }
    }
  })
  edge = createEdge({ origin: origin.url, port: 0, chunkSize: MIN_CHUNK_SIZE_BYTES, sdkPath: join(tmp, 'none.js') })
  await edge.start()
})

afterAll(async () => {
  await edge?.stop()
  await origin?.close()
  if (tmp !== undefined) await rm(tmp, { recursive: true, force: true })
})

const manifestOf = async (path: string): Promise<Response> =>
  await fetch(`${edge.url}/_p2pcdn/manifest?url=${encodeURIComponent(origin.url + path)}`)

describe('edge manifest bounds', () => {
  it('a body of exactly MAX_MANIFEST_CHUNKS chunks gets a manifest that parses', async () => {
    const res = await manifestOf('/at.bin')
    expect(res.status).toBe(200)
    const m = parseManifest(await res.text())
    expect(m.chunks).toHaveLength(MAX_MANIFEST_CHUNKS)
    expect(m.size).toBe(AT_BOUND)
  }, 30_000)

  for (const path of ['/over.bin', '/over-streamed.bin']) {
    it(`one byte more (${path === '/over.bin' ? 'Content-Length' : 'streamed, no Content-Length'}) gets no manifest; the resource is still served`, async () => {
      const res = await manifestOf(path)
      expect(res.status).toBe(409)
      const body = (await res.json()) as { code: string; error: string }
      expect(body.code).toBe('ERR_HTTP')
      expect(body.error).toMatch(/no manifest: .*65537 chunks, over the 65536/)
      const bytes = await fetch(`${edge.url}${path}`)
      expect(bytes.status).toBe(200)
      expect((await bytes.arrayBuffer()).byteLength).toBe(OVER.length)
      expect(bytes.headers.get('x-cache')).toMatch(/HIT/)
      // Asked again, from the cache: still no manifest, and the origin is not asked again.
      const before = origin.requests.get(path)
      expect((await manifestOf(path)).status).toBe(409)
      expect(origin.requests.get(path)).toBe(before)
    }, 30_000)
  }
})

describe('p2pcdn manifest bounds', () => {
  async function run(argv: string[]): Promise<{ out: string; err: string; code: number }> {
    let out = ''
    let err = ''
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      out += String(s)
      return true
    })
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err += String(s)
      return true
    })
    process.exitCode = undefined
    try {
      await manifestMain(argv)
    } finally {
      o.mockRestore()
      e.mockRestore()
    }
    const code = Number(process.exitCode ?? 0)
    process.exitCode = undefined
    return { out, err, code }
  }

  it('refuses a file with more chunks than a manifest may have, saying which chunk size would do', async () => {
    const file = join(tmp, 'big.bin')
    await writeFile(file, '')
    // Sparse: 2 GiB without writing them. Refused before a byte is read.
    await truncate(file, 2 ** 31)
    const { out, err, code } = await run([file, '--chunk-size', '1024'])
    expect(code).toBe(2)
    expect(out).toBe('')
    expect(err).toMatch(
      /no manifest within the bounds: 2147483648 bytes at chunkSize 1024 is 2097152 chunks, over the 65536 .*chunkSize 32768 or more/
    )
  })

  it('refuses a chunk size outside the bounds and a url over MAX_MANIFEST_URL_CHARS', async () => {
    const file = join(tmp, 'small.bin')
    await writeFile(file, 'hello')
    expect((await run([file, '--chunk-size', String(32 * 1024 * 1024)])).err).toMatch(
      /"chunkSize": expected 1024-16777216 bytes/
    )
    expect((await run([file, '--url', 'https://o.example/' + 'a'.repeat(9000)])).err).toMatch(
      /url of 9018 characters is outside 1-8192/
    )
    expect((await run([file])).code).toBe(0)
  })
})
