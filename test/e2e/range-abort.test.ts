/**
 * Range and abort in real Chromium: a Range fetch returns exactly the asked bytes as a
 * 206 and fetches only the chunks they lie in; aborting stops every request of the
 * fetch (counted at the origin, which here serves chunks itself with a sidecar manifest).
 */
import { webcrypto } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildManifest, serializeManifest } from '../../protocol/src/index.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { eventsOf, fetchIn, sha256Hex, startCdnEnv, type CdnEnv } from '../helpers/cdn-env.js'

const MIB = 1024 * 1024
const CHUNK = 256 * 1024
const body = deterministicBytes(4 * MIB, 'range')
const slow = deterministicBytes(8 * MIB, 'abort')
const sha256 = async (b: Uint8Array): Promise<Uint8Array> => new Uint8Array(await webcrypto.subtle.digest('SHA-256', b))

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv({ '/range.bin': { body, headers: { 'Cache-Control': 'public, max-age=3600' } } })
  // The origin serves the slow file and, as the operator's sidecar, its manifest.
  const url = `${env.origin.url}/slow.bin`
  const manifest = await buildManifest({ url, chunkSize: CHUNK }, slow, sha256)
  env.origin.files['/slow.bin'] = { body: slow, delayMs: 150 }
  env.origin.files['/slow.bin.p2pcdn.json'] = { body: serializeManifest(manifest), type: 'application/json' }
})

afterAll(async () => {
  await env.close()
})

it('a Range in the middle gives a 206 with exactly those bytes, fetching only their chunks', async () => {
  const page = await env.openPage()
  const start = 1_000_000
  const end = 2_999_999
  const r = await fetchIn(page, '/range.bin', { edges: [env.edges[0]!.url] }, { Range: `bytes=${start}-${end}` })
  expect(r.status).toBe(206)
  expect(r.size).toBe(end - start + 1)
  expect(r.sha256).toBe(sha256Hex(body.subarray(start, end + 1)))
  const indices = eventsOf(r, 'chunk')
    .map(e => e.index as number)
    .sort((a, b) => a - b)
  const want = Array.from(
    { length: Math.floor(end / CHUNK) - Math.floor(start / CHUNK) + 1 },
    (_, i) => Math.floor(start / CHUNK) + i
  )
  expect(indices).toEqual(want)
  const headers = await page.evaluate(async () => {
    const res: Response = await (globalThis as any).cdn.fetch('/range.bin', { headers: { Range: 'bytes=-1000' } })
    const bytes = new Uint8Array(await res.arrayBuffer())
    return {
      range: res.headers.get('Content-Range'),
      length: res.headers.get('Content-Length'),
      bytes: [...bytes.subarray(0, 4)],
      size: bytes.length
    }
  })
  expect(headers).toEqual({
    range: `bytes ${body.length - 1000}-${body.length - 1}/${body.length}`,
    length: '1000',
    bytes: [...body.subarray(body.length - 1000, body.length - 996)],
    size: 1000
  })
  await page.context().close()
})

it('abort stops every request of the fetch', async () => {
  const page = await env.openPage()
  const chunks = slow.length / CHUNK
  const outcome = await page.evaluate(async () => {
    const w = globalThis as any
    const cdn = w.P2PCDN.create({ manifestSuffix: '.p2pcdn.json', persist: false, httpConcurrency: 2 })
    const abort = new AbortController()
    const res: Response = await cdn.fetch('/slow.bin', { signal: abort.signal })
    const reader = res.body!.getReader()
    const first = await reader.read()
    abort.abort()
    let error = ''
    try {
      for (let i = 0; i < 100; i++) if ((await reader.read()).done) break
    } catch (err) {
      error = (err as Error).name
    }
    return { firstBytes: first.value?.length ?? 0, error }
  })
  expect(outcome.firstBytes).toBeGreaterThan(0)
  expect(outcome.error).toBe('AbortError')
  // A request the page sent just before abort() may still be on its way: let it land,
  // then nothing more may arrive, however long we wait. These two waits stay: each HTTP
  // request has a connection of its own and may be cancelled before it is sent, so no
  // round trip orders the page's requests against the origin, and a request wrongly sent
  // later would come from the SDK's own timers (retries, backoff), which nothing the test
  // can send waits behind. A window of 1.5 s is the whole check.
  await new Promise(resolve => setTimeout(resolve, 300))
  const atAbort = env.origin.requests.get('/slow.bin') ?? 0
  await new Promise(resolve => setTimeout(resolve, 1500))
  const later = env.origin.requests.get('/slow.bin') ?? 0
  expect(later).toBe(atAbort)
  expect(later).toBeLessThan(chunks)
  await page.context().close()
})
