/**
 * Absurd manifests from the page's own edge (issue 11). A rogue edge, configured as the
 * page's only edge, answers `/_p2pcdn/manifest` with manifests that are well formed but
 * for sizes no one should allocate for: one chunk of 1 TiB, and 1,048,576 chunks of
 * 1 KiB (about 48 MB of JSON, sent with and without Content-Length). Range requests it
 * answers with zeros as fast as the page reads them (up to ROGUE_STREAM_CAP), as an
 * attacker would. The page must get ERR_INVALID_MANIFEST, the origin's bytes, in
 * bounded time, with bounded tab memory: JS heap after GC (CDP) and the RSS of the
 * whole Chromium process tree under a 50 ms sampler that kills it past RSS_ABORT.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Page } from 'playwright'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deterministicBytes } from '../../../examples/demo/deterministic-bytes.js'
import { sha256Hex, startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import { mb, MiB, record, rssOf, underAttack } from '../support/measure.js'

const SUITE = 'client-absurd-manifest'
const SIZE = 600 * 1024
const cacheable = { 'Cache-Control': 'public, max-age=3600' }
const FILES = ['/tib.bin', '/million.bin', '/million-chunked.bin'] as const
const real = Object.fromEntries(FILES.map(p => [p, deterministicBytes(SIZE, `absurd${p}`)]))
/** What the rogue streams for one Range request at most: enough to show growth, not to exhaust the machine. */
const ROGUE_STREAM_CAP = 2048 * MiB
const ZEROS = Buffer.alloc(64 * 1024)
/** A fetch that takes longer than this has not been bounded. */
const FETCH_DEADLINE_MS = 45_000

/** After the fix: what a refused manifest may leave behind in the tab, and how long it may take. */
const HEAP_GROWTH_BOUND = 8 * MiB
const RSS_GROWTH_BOUND = 256 * MiB
/** What the rogue may push into sockets for the early request before the page cancels (it once read 1,142 MiB of it). */
const ROGUE_STREAM_BOUND = 16 * MiB
const FETCH_BOUND_MS = 10_000

let env: CdnEnv
let rogue: http.Server
let rogueUrl = ''
let rangeRequests = 0
let rogueBytes = 0
let million: Buffer

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url')
}

/** Correctly formed in every field but the sizes. */
function absurdManifest(url: string, size: number, chunkSize: number, chunks: string[]): string {
  return JSON.stringify({
    v: 1,
    url,
    size,
    type: 'application/octet-stream',
    etag: '',
    chunkSize,
    hash: 'SHA-256',
    chunks
  })
}

beforeAll(async () => {
  const zeroHash = b64url(createHash('sha256').update(Buffer.alloc(1024)).digest())
  // The chunks of zeros the rogue serves: every hash matches what it would send.
  million = Buffer.from(
    absurdManifest(
      'URL',
      2 ** 30,
      1024,
      Array.from({ length: 1 << 20 }, () => zeroHash)
    )
  )
  const tibHash = b64url(createHash('sha256').update('a TiB of zeros').digest())
  rogue = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://rogue')
    const cors = {
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'Range',
      'access-control-expose-headers': 'Content-Range, Content-Length, X-P2PCDN-Region'
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors).end()
    } else if (u.pathname === '/_p2pcdn/ping') {
      res.writeHead(200, { ...cors, 'x-p2pcdn-region': 'eu' }).end('ok')
    } else if (u.pathname === '/_p2pcdn/manifest') {
      const asked = u.searchParams.get('url') ?? ''
      const path = new URL(asked).pathname
      const headers = { ...cors, 'content-type': 'application/json' }
      if (path === '/tib.bin') {
        res.writeHead(200, headers).end(absurdManifest(asked, 2 ** 40, 2 ** 40, [tibHash]))
        return
      }
      const body = Buffer.from(million.toString('latin1').replace('"URL"', JSON.stringify(asked)), 'latin1')
      if (path === '/million.bin') {
        res.writeHead(200, { ...headers, 'content-length': String(body.length) }).end(body)
        return
      }
      // Chunked: nothing to refuse up front, so only a read cap helps.
      res.writeHead(200, headers)
      let at = 0
      const pump = (): void => {
        while (at < body.length && !res.destroyed) {
          const slice = body.subarray(at, at + 64 * 1024)
          at += slice.length
          if (!res.write(slice)) {
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      pump()
    } else {
      // A chunk: zeros for the whole range asked, as fast as the page takes them.
      rangeRequests++
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
      const want = m === null ? ROGUE_STREAM_CAP : Math.min(ROGUE_STREAM_CAP, Number(m[2]) - Number(m[1]) + 1)
      res.writeHead(206, {
        ...cors,
        'content-type': 'application/octet-stream',
        'content-length': String(want),
        'content-range': `bytes ${m?.[1] ?? 0}-${Number(m?.[1] ?? 0) + want - 1}/*`
      })
      let sent = 0
      const pump = (): void => {
        while (sent < want && !res.destroyed) {
          const n = Math.min(ZEROS.length, want - sent)
          sent += n
          rogueBytes += n
          if (!res.write(n === ZEROS.length ? ZEROS : ZEROS.subarray(0, n))) {
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      pump()
    }
  })
  await new Promise<void>(resolve => rogue.listen(0, '127.0.0.1', resolve))
  rogueUrl = `http://127.0.0.1:${(rogue.address() as AddressInfo).port}`
}, 60_000)

afterAll(async () => {
  if (rogue !== undefined) {
    const closed = new Promise(resolve => rogue.close(resolve))
    rogue.closeAllConnections()
    await closed
  }
  await env?.close()
})

/** Parent pid of every process, read from /proc. */
function processTree(): Map<number, number[]> {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(name))
      children.set(ppid, list)
    } catch {}
  }
  return children
}

/** Chromium, as this test process launched it (Playwright's `Browser` has no pid to give). */
function chromiumPids(): number[] {
  return (processTree().get(process.pid) ?? []).filter(pid => {
    try {
      return /chrom/i.test(readFileSync(`/proc/${pid}/comm`, 'utf8'))
    } catch {
      return false
    }
  })
}

/** RSS of Chromium and every process below it (renderers, GPU, network service). */
function treeRss(roots: number[]): number {
  const children = processTree()
  let total = 0
  const stack = [...roots]
  while (stack.length > 0) {
    const pid = stack.pop()!
    total += rssOf(pid)
    stack.push(...(children.get(pid) ?? []))
  }
  return total
}

async function heapAfterGc(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('HeapProfiler.collectGarbage')
  await cdp.send('HeapProfiler.collectGarbage')
  const { usedSize } = await cdp.send('Runtime.getHeapUsage')
  await cdp.detach()
  return usedSize
}

interface Outcome {
  sha256?: string
  size?: number
  errors: Array<{ code: string; message: string }>
  ms: number
  failed?: string
}

async function absurdFetch(test: string, path: (typeof FILES)[number]): Promise<void> {
  // A Chromium of its own: a before-run's sampler kills it.
  await env?.close()
  env = await startCdnEnv(Object.fromEntries(FILES.map(p => [p, { body: real[p]!, headers: cacheable }])))
  const page = await env.openPage()
  const browserPids = chromiumPids()
  if (browserPids.length === 0) throw new Error('no Chromium process found')
  const heapBefore = await heapAfterGc(page)
  const ranges = rangeRequests
  const streamed = rogueBytes
  // Growth over the idle tree counts against RSS_ABORT: the tree's own RSS (shared pages
  // counted per process) is most of a GiB before anything happens.
  const idle = treeRss(browserPids)
  const measured = await underAttack(
    {
      rss: () => Math.max(0, treeRss(browserPids) - idle),
      alive: () => browserPids.some(pid => rssOf(pid) > 0),
      kill: () => {
        for (const pid of browserPids) process.kill(pid, 'SIGKILL')
      }
    },
    async () =>
      await page.evaluate(
        async ({ url, edges, deadlineMs }): Promise<Outcome> => {
          const w = globalThis as any
          const cdn = w.P2PCDN.create({ persist: false, edges, p2p: false })
          const errors: Array<{ code: string; message: string }> = []
          cdn.on('error', (e: { code: string; message: string }) =>
            errors.push({ code: e.code, message: e.message.slice(0, 200) })
          )
          const started = performance.now()
          const deadline = new Promise<never>((_resolve, reject) =>
            setTimeout(() => reject(new Error(`no answer in ${deadlineMs} ms`)), deadlineMs)
          )
          try {
            const bytes = await Promise.race([
              (async () => new Uint8Array(await (await cdn.fetch(url)).arrayBuffer()))(),
              deadline
            ])
            const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
            return {
              sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join(''),
              size: bytes.length,
              errors,
              ms: Math.round(performance.now() - started)
            }
          } catch (err) {
            return { errors, ms: Math.round(performance.now() - started), failed: String(err) }
          } finally {
            void cdn.destroy()
          }
        },
        { url: `${env.origin.url}${path}`, edges: [rogueUrl], deadlineMs: FETCH_DEADLINE_MS }
      )
  )
  const outcome = measured.result
  const heapAfter = measured.aborted ? Number.NaN : await heapAfterGc(page).catch(() => Number.NaN)
  const figures = {
    ms: outcome?.ms ?? measured.ms,
    heapGrowthMiB: Number(((heapAfter - heapBefore) / MiB).toFixed(1)),
    rssPeakGrowth: mb(measured.peak - measured.baseline),
    aborted: measured.aborted,
    rogueRanges: rangeRequests - ranges,
    rogueStreamed: mb(rogueBytes - streamed),
    size: outcome?.size,
    correct: outcome?.sha256 === sha256Hex(real[path]!),
    errors: outcome?.errors.map(e => `${e.code}: ${e.message.slice(0, 100)}`),
    failed: outcome?.failed ?? (measured.error === undefined ? undefined : String(measured.error))
  }
  record(SUITE, test, figures)
  await page
    .context()
    .close()
    .catch(() => {})
  expect(measured.aborted, JSON.stringify(figures)).toBe(false)
  expect(outcome?.failed, JSON.stringify(figures)).toBeUndefined()
  expect(outcome?.sha256, JSON.stringify(figures)).toBe(sha256Hex(real[path]!))
  expect(
    outcome?.errors.map(e => e.code),
    JSON.stringify(figures)
  ).toContain('ERR_INVALID_MANIFEST')
  // Nothing is asked on the absurd manifest's word. The one range request is the SDK's
  // early first chunk, sent with the manifest request before either came back: the
  // rogue streams zeros for it without end, and the page reads 256 KiB and cancels.
  expect(rangeRequests - ranges, JSON.stringify(figures)).toBeLessThanOrEqual(1)
  expect(rogueBytes - streamed, JSON.stringify(figures)).toBeLessThan(ROGUE_STREAM_BOUND)
  expect(outcome!.ms).toBeLessThan(FETCH_BOUND_MS)
  expect(heapAfter - heapBefore, JSON.stringify(figures)).toBeLessThan(HEAP_GROWTH_BOUND)
  expect(measured.peak - measured.baseline, JSON.stringify(figures)).toBeLessThan(RSS_GROWTH_BOUND)
}

describe("absurd manifests from the page's edge", () => {
  it('one 1 TiB chunk is refused (chunk size bound); the bytes come from the origin', async () => {
    await absurdFetch('tib-chunk', '/tib.bin')
  }, 120_000)

  it('1,048,576 chunks of 1 KiB with Content-Length (48 MB) are refused before the body is read', async () => {
    await absurdFetch('million-chunks', '/million.bin')
  }, 120_000)

  it('1,048,576 chunks of 1 KiB, chunked (no Content-Length), are refused once the read passes the cap', async () => {
    await absurdFetch('million-chunks-chunked', '/million-chunked.bin')
  }, 120_000)
})
