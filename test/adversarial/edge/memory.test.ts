/**
 * Memory exhaustion: the edge is started with a 1 MiB memory cap and attacked with
 * endless, huge, many and slow-read responses. Its RSS must stay within the cap plus a
 * fixed overhead, and a victim must still get its object.
 */
import type { Socket } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { streamGet } from './support/clients.js'
import {
  bounded,
  expectRssBound,
  expectVictim,
  get,
  isFailure,
  metric,
  mustStart,
  nonReader,
  record,
  rssFigures,
  startEdge,
  underAttack,
  until,
  warmUp
} from './support/harness.js'
import type { EdgeChild } from './support/harness.js'
import { SMALL, bytes, serveSmall, sha256, startHttpOrigin } from './support/origins.js'
import type { HttpOrigin } from './support/origins.js'
import http from 'node:http'

const MAX_MEMORY = 1024 * 1024
const BASE_ARGS = ['--max-memory-bytes', String(MAX_MEMORY), '--access-log', 'on']
const BIG_SIZE = 32 * 1024 * 1024
const BIG = bytes(BIG_SIZE, 'big')
const BIG_SHA = sha256(BIG)
/** An endless stream stops here so the before-run has an end even when nothing pushes back. */
const FOREVER_MS = 6000
const FOREVER_BYTES = 2 * 1024 * 1024 * 1024
const CHUNK = Buffer.alloc(64 * 1024, 0x61)

let origin: HttpOrigin
let foreverSent = 0
/** Resolves when the slow 32 MiB object has been sent completely, per path. */
const slowDone = new Map<string, Promise<void>>()
const slowResolve = new Map<string, () => void>()
const edges: EdgeChild[] = []
const sockets: Socket[] = []

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) => {
    if (serveSmall(req, res)) return
    const url = req.url ?? '/'
    const path = url.split('?')[0] ?? '/'
    if (path === '/forever') {
      // No Content-Length, and as fast as the edge takes it.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=60' })
      const until = Date.now() + FOREVER_MS
      let sent = 0
      const pump = (): void => {
        while (Date.now() < until && sent < FOREVER_BYTES && !res.destroyed) {
          sent += CHUNK.length
          foreverSent += CHUNK.length
          if (!res.write(CHUNK)) {
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      pump()
    } else if (path === '/slow32') {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'cache-control': 'public, max-age=600',
        'content-length': String(BIG_SIZE)
      })
      // 32 slices of 1 MiB, one every 60 ms: about 2 s for the whole object.
      let i = 0
      const timer = setInterval(() => {
        if (res.destroyed) {
          clearInterval(timer)
          return
        }
        res.write(BIG.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024))
        if (++i === 32) {
          clearInterval(timer)
          res.end(() => slowResolve.get(url)?.())
        }
      }, 60)
    } else if (path === '/big' || path === '/r32') {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'cache-control': 'public, max-age=600',
        'content-length': String(BIG_SIZE),
        etag: '"big"'
      })
      res.end(BIG)
    } else if (path.startsWith('/missing/')) {
      res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'max-age=600' })
      res.end('missing')
    } else if (path.startsWith('/bare/')) {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('missing')
    } else {
      res.writeHead(404)
      res.end()
    }
  })
})

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy()
  for (const e of edges.splice(0)) await e.stop()
})

afterAll(async () => {
  await origin.close()
})

async function edgeFor(args: string[] = BASE_ARGS): Promise<{ edge: EdgeChild; baseline: number }> {
  const edge = await mustStart(origin.url, args)
  edges.push(edge)
  const baseline = await warmUp(edge, '/small', SMALL)
  return { edge, baseline }
}

async function openNonReaders(
  edge: EdgeChild,
  n: number,
  path: (i: number) => string,
  signal: AbortSignal
): Promise<void> {
  for (let i = 0; i < n && !signal.aborted; i++) sockets.push(await nonReader(edge.port, get(path(i))))
}

describe('memory bounds (--max-memory-bytes 1 MiB)', () => {
  it('calibration: 20,000 ordinary requests on 64 connections stay within FIXED_OVERHEAD', async () => {
    const { edge, baseline } = await edgeFor()
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
    const m = await underAttack(
      edge,
      async () => {
        await bounded(20_000, 64, async () => {
          await new Promise<void>(resolve => {
            http
              .get(`${edge.url}/small`, { agent }, res => {
                res.resume()
                res.on('end', resolve)
              })
              .on('error', () => resolve())
          })
        })
      },
      baseline
    )
    agent.destroy()
    record('memory calibration: 20,000 hits', rssFigures(m, MAX_MEMORY))
    expectRssBound(m, MAX_MEMORY)
    await expectVictim(edge, '/small', SMALL)
  })

  it('a: an endless origin stream read at full speed and by non-reading clients', async () => {
    const { edge, baseline } = await edgeFor()
    foreverSent = 0
    const m = await underAttack(
      edge,
      async signal => {
        // Readers stop at 512 MiB each: enough to show whether the edge keeps the stream.
        const readers = Array.from(
          { length: 4 },
          async () =>
            await streamGet(`${edge.url}/forever?r`, { limit: 512 * 1024 * 1024, timeoutMs: 15_000, signal }).catch(
              (err: unknown) => String(err)
            )
        )
        await openNonReaders(edge, 8, () => '/forever?n', signal)
        // Nothing to await for the non-readers but the origin giving up.
        await until(() => signal.aborted || foreverSent >= FOREVER_BYTES, FOREVER_MS + 1000)
        return await Promise.all(readers)
      },
      baseline
    )
    const read = (m.result ?? []).map(r =>
      typeof r === 'string' ? r : `${r.status} ${r.bytes}${r.cut ? ' (cut)' : ''}`
    )
    record('memory a: endless stream', {
      ...rssFigures(m, MAX_MEMORY),
      originSent: foreverSent,
      readers: read,
      alive: edge.alive()
    })
    for (const s of sockets.splice(0)) s.destroy()
    expectRssBound(m, MAX_MEMORY)
    await expectVictim(edge, '/small', SMALL)
  })

  it('b: three slow 32 MiB objects, 50 non-readers each while they fill and 50 after', async () => {
    const { edge, baseline } = await edgeFor()
    // Three at once: an edge that buffers a fill and then copies it holds six bodies.
    const paths = ['/slow32?b1', '/slow32?b2', '/slow32?b3']
    for (const path of paths) slowDone.set(path, new Promise(resolve => slowResolve.set(path, resolve)))
    const m = await underAttack(
      edge,
      async signal => {
        for (const path of paths) await openNonReaders(edge, 50, () => path, signal)
        await Promise.race([
          Promise.all(paths.map(async path => await slowDone.get(path))),
          until(() => signal.aborted, 10_000)
        ])
        for (const path of paths) await openNonReaders(edge, 50, () => path, signal)
        // The second wave is answered from what the edge holds: give it time to write.
        await until(() => signal.aborted, 1000)
      },
      baseline
    )
    const path = paths[0] as string
    let victim: string
    let got: Awaited<ReturnType<typeof streamGet>> | undefined
    try {
      // The victim is another client (all attackers are 127.0.0.1): the non-readers hold
      // their share of origin sockets, not all of them.
      got = await streamGet(edge.url + path, { limit: BIG_SIZE + 1, localAddress: '127.0.0.2' })
      victim = `${got.status} ${got.bytes} bytes ${got.sha256 === BIG_SHA ? 'sha ok' : 'sha WRONG'}`
    } catch (err) {
      victim = String(err)
    }
    record('memory b: three slow 32 MiB, 300 non-readers', {
      ...rssFigures(m, MAX_MEMORY),
      victim,
      originRequests: origin.count(path),
      alive: edge.alive()
    })
    for (const s of sockets.splice(0)) s.destroy()
    expectRssBound(m, MAX_MEMORY)
    expect(got?.status).toBe(200)
    expect(got?.bytes).toBe(BIG_SIZE)
    expect(got?.sha256).toBe(BIG_SHA)
    await expectVictim(edge, '/small', SMALL)
  }, 45_000)

  it('c: 24 variants of a 32 MiB object at once, read fully and by non-readers', async () => {
    const { edge, baseline } = await edgeFor()
    const m = await underAttack(
      edge,
      async signal => {
        const reads = await Promise.all(
          Array.from(
            { length: 24 },
            async (_, i) =>
              await streamGet(`${edge.url}/big?v=${i + 1}`, { limit: BIG_SIZE + 1, timeoutMs: 30_000, signal }).catch(
                (err: unknown) => String(err)
              )
          )
        )
        await openNonReaders(edge, 24, i => `/big?v=${i + 101}`, signal)
        await until(() => signal.aborted || origin.log.filter(a => a.url.startsWith('/big?v=1')).length >= 48, 3000)
        await until(() => signal.aborted, 1000)
        return reads
      },
      baseline
    )
    const reads = m.result ?? []
    const ok = reads.filter(
      r => typeof r !== 'string' && r.status === 200 && r.bytes === BIG_SIZE && r.sha256 === BIG_SHA
    ).length
    record('memory c: 24 x 32 MiB variants', {
      ...rssFigures(m, MAX_MEMORY),
      readersCorrect: `${ok}/24`,
      failures: reads.filter(r => typeof r === 'string').slice(0, 2),
      alive: edge.alive()
    })
    for (const s of sockets.splice(0)) s.destroy()
    expectRssBound(m, MAX_MEMORY)
    expect(ok).toBe(24)
    await expectVictim(edge, '/small', SMALL)
  })

  for (const [kind, prefix] of [
    ['404 max-age=600', '/missing/'],
    ['bare 404', '/bare/']
  ] as const) {
    it(`d: 20,000 distinct ${kind} with --max-entries 1000 (planned option)`, async () => {
      const started = await startEdge(origin.url, [...BASE_ARGS, '--max-entries', '1000'])
      const optionMissing = isFailure(started)
      // Before the option exists, the flood still runs against a default edge for the figure.
      const edge = isFailure(started) ? await mustStart(origin.url, BASE_ARGS) : started
      edges.push(edge)
      const baseline = await warmUp(edge, '/small', SMALL)
      const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
      const statuses = new Map<number, number>()
      const m = await underAttack(
        edge,
        async signal => {
          await bounded(
            20_000,
            64,
            async i => {
              const status = await new Promise<number>(resolve => {
                const req = http.get(`${edge.url}${prefix}${i}`, { agent }, res => {
                  res.resume()
                  res.on('end', () => resolve(res.statusCode ?? 0))
                })
                req.on('error', () => resolve(-1))
              })
              statuses.set(status, (statuses.get(status) ?? 0) + 1)
            },
            signal
          )
        },
        baseline
      )
      agent.destroy()
      const entries = edge.alive() ? await metric(edge, 'p2pcdn_edge_cache_entries') : undefined
      record(`memory d: 20k ${kind}`, {
        option: optionMissing ? 'missing' : 'accepted',
        ...rssFigures(m, MAX_MEMORY),
        statuses: Object.fromEntries(statuses),
        entriesGauge: entries,
        alive: edge.alive()
      })
      expectRssBound(m, MAX_MEMORY)
      expect(optionMissing, 'the --max-entries option is missing').toBe(false)
      expect(entries).toBeDefined()
      expect(entries ?? Infinity).toBeLessThanOrEqual(1000)
      await expectVictim(edge, '/small', SMALL)
    }, 60_000)
  }

  for (const throttled of [false, true]) {
    it(`e: 16 overlapping ranges on a cached 32 MiB object from 20 non-readers${throttled ? ' (--max-bytes-per-sec 10000000)' : ''}`, async () => {
      // 64 MiB of memory so the 32 MiB object is really cached and the hit path is attacked.
      const cap = 64 * 1024 * 1024
      const args = [
        '--max-memory-bytes',
        String(cap),
        '--access-log',
        'on',
        ...(throttled ? ['--max-bytes-per-sec', '10000000'] : [])
      ]
      const { edge, baseline: warm } = await edgeFor(args)
      const path = `/r32?t=${String(throttled)}`
      const fill = await streamGet(edge.url + path, { limit: BIG_SIZE + 1, timeoutMs: 30_000 })
      expect(fill.sha256).toBe(BIG_SHA)
      const baseline = Math.max(warm, edge.rss())
      const range = `bytes=${Array.from({ length: 16 }, () => '0-').join(',')}`
      const m = await underAttack(
        edge,
        async signal => {
          await openNonReaders(edge, 20, () => path, signal)
          // Re-open them with the Range header (the first batch warms the connections' path).
          for (const s of sockets.splice(0)) s.destroy()
          for (let i = 0; i < 20 && !signal.aborted; i++)
            sockets.push(await nonReader(edge.port, get(path, `Range: ${range}\r\n`)))
          await until(() => signal.aborted, 1000)
          return await streamGet(edge.url + path, {
            headers: { range },
            limit: BIG_SIZE + 64 * 1024,
            timeoutMs: 30_000,
            signal
          })
        },
        baseline
      )
      const one = m.result
      const shape =
        one === undefined
          ? 'no answer'
          : `${one.status} ${String(one.headers['content-type'])} ${String(one.headers['content-range'] ?? '')} ${one.bytes}${one.cut ? '+ (cut)' : ''} bytes`
      record(`memory e: 16 ranges x 20 non-readers${throttled ? ' throttled' : ''}`, {
        ...rssFigures(m, cap),
        oneReader: shape,
        alive: edge.alive()
      })
      for (const s of sockets.splice(0)) s.destroy()
      expectRssBound(m, cap)
      expect(one).toBeDefined()
      expect(one?.cut).toBe(false)
      expect(String(one?.headers['content-type'])).not.toContain('multipart')
      if (one?.status === 206) {
        expect(one.headers['content-range']).toBe(`bytes 0-${BIG_SIZE - 1}/${BIG_SIZE}`)
        expect(one.sha256).toBe(BIG_SHA)
      } else {
        expect(one?.status).toBe(200)
        expect(one?.bytes ?? Infinity).toBeLessThanOrEqual(BIG_SIZE)
      }
      await expectVictim(edge, '/small', SMALL)
    }, 60_000)
  }
})
