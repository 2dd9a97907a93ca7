/**
 * Shared harness for the adversarial edge suite: the edge runs in a child process (so
 * a crash is seen as an exit and memory is the real RSS), attacks run under an RSS
 * sampler, and every attack ends with a well-behaved victim request.
 *
 * Every test records its "before/after" figures with `record()`: one JSON line on
 * stderr and, when ADV_FIGURES is set, appended to that file, so a run of the suite
 * yields a table of what the victim got and the peak RSS without reading test output.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import http from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import net from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { expect } from 'vitest'
import { mb, MiB, record as recordFigures, rssOf } from '../../support/measure.js'
import type { Measured } from '../../support/measure.js'

/** The child entry point: runs `p2pcdn edge` with argv as flags, JSON log lines on stdout. */
const CHILD = join(import.meta.dirname, '..', '..', '..', 'integration', 'edge-crash-child.ts')

/**
 * Allowed RSS on top of baseline + maxMemoryBytes: what an edge that holds nothing
 * beyond its byte caps still grows by under load. Mostly V8's heap headroom: under
 * request churn V8 grows new space (up to 16-32 MiB) and old space before it collects,
 * and a flood of tiny uncacheable requests peaked 75-92 MiB above the idle baseline
 * whether it ran for 20,000 or 60,000 requests (so nothing was retained; with
 * `--max-semi-space-size=1` the same flood peaked at +51 MiB), and the suite's flood of
 * 20,000 404s peaked at +83 MiB: 128 MiB leaves room for that spread. Also undici and http
 * parser state and per-connection user-space buffers (one highWaterMark of 16-64 KiB
 * of pending writes each before backpressure applies); kernel socket buffers are not
 * in RSS. memory.test.ts's calibration `it` runs such a flood of hits. Anything that
 * holds a whole 32 MiB object per connection, or an unbounded stream, blows through it.
 */
export const FIXED_OVERHEAD = 128 * MiB

export interface EdgeChild {
  child: ChildProcess
  pid: number
  url: string
  port: number
  /** stdout and stderr lines that look like an uncaught error or a stack trace. */
  suspicious: string[]
  /** Every non-access line on stdout/stderr (logs), for reports. */
  logs: string[]
  /**
   * The first access line (this one's JSON) matching `match`, seen already or still to
   * come; undefined if the child exits first or `timeoutMs` passes.
   */
  accessLine: (
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number
  ) => Promise<Record<string, unknown> | undefined>
  alive: () => boolean
  rss: () => number
  /** SIGKILL, for the RSS sampler. */
  kill: () => void
  stop: () => Promise<void>
}

export interface StartFailure {
  failed: true
  code: number | null
  stderr: string
}

const SUSPICIOUS = /uncaught|unhandled|^\s+at .+:\d+:\d+\)?$|TypeError|RangeError|ReferenceError/i

/** Start `p2pcdn edge --origin URL --port 0 ...args` in a child; resolves once it listens. */
export async function startEdge(
  origin: string,
  args: string[] = [],
  opts: { port?: number } = {}
): Promise<EdgeChild | StartFailure> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, '--origin', origin, '--port', String(opts.port ?? 0), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  const suspicious: string[] = []
  const logs: string[] = []
  /** The last access lines, parsed, and who waits for one. */
  const access: Array<Record<string, unknown>> = []
  const accessWaiters = new Set<(line: Record<string, unknown>) => void>()
  let stderr = ''
  const watch = (line: string): void => {
    if (line.includes('"event":"access"')) {
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>
        access.push(parsed)
        if (access.length > 200) access.shift()
        for (const waiter of accessWaiters) waiter(parsed)
      } catch {
        // Not one whole JSON line: not an access line to wait for.
      }
    } else {
      if (logs.length < 2000) logs.push(line)
      // Access lines carry client-chosen URLs; only log lines are checked for traces.
      if (SUSPICIOUS.test(line)) suspicious.push(line)
    }
  }
  const out = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const err = createInterface({ input: child.stderr as NodeJS.ReadableStream })
  err.on('line', line => {
    if (stderr.length < 64 * 1024) stderr += line + '\n'
    watch(line)
  })
  const url = await new Promise<string | undefined>(resolve => {
    out.on('line', line => {
      watch(line)
      if (!line.includes('"listening"')) return
      try {
        const msg = JSON.parse(line) as { event?: string; msg?: string; url?: string; port?: number }
        if (msg.url !== undefined) resolve(msg.url)
      } catch {
        // Not the JSON listening line: keep reading.
      }
    })
    child.once('exit', () => resolve(undefined))
  })
  if (url === undefined) {
    await new Promise(resolve => setImmediate(resolve))
    return { failed: true, code: child.exitCode, stderr }
  }
  const port = Number(new URL(url).port)
  const pid = child.pid ?? -1
  const alive = (): boolean => child.exitCode === null && child.signalCode === null
  return {
    child,
    pid,
    // Connect to where the child listens even when --public-url names another host.
    url: `http://127.0.0.1:${port}`,
    port,
    suspicious,
    logs,
    alive,
    rss: () => rssOf(pid),
    async accessLine(match, timeoutMs = 10_000) {
      const seen = access.find(match)
      if (seen !== undefined) return seen
      if (!alive()) return undefined
      return await new Promise<Record<string, unknown> | undefined>(resolve => {
        const done = (line: Record<string, unknown> | undefined): void => {
          clearTimeout(timer)
          accessWaiters.delete(waiter)
          child.off('exit', onExit)
          resolve(line)
        }
        const waiter = (line: Record<string, unknown>): void => {
          if (match(line)) done(line)
        }
        const onExit = (): void => done(undefined)
        const timer = setTimeout(() => done(undefined), timeoutMs)
        accessWaiters.add(waiter)
        child.once('exit', onExit)
      })
    },
    kill: () => {
      child.kill('SIGKILL')
    },
    async stop() {
      if (!alive()) return
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
  }
}

/** Start the edge and fail the test with the child's stderr when it does not start. */
export async function mustStart(origin: string, args: string[] = [], opts: { port?: number } = {}): Promise<EdgeChild> {
  const edge = await startEdge(origin, args, opts)
  if ('failed' in edge)
    throw new Error(
      `edge did not start (exit ${String(edge.code)}): ${edge.stderr.split('\n').slice(0, 3).join(' | ')}`
    )
  return edge
}

export function isFailure(e: EdgeChild | StartFailure): e is StartFailure {
  return 'failed' in e
}

/** A few ordinary requests so the baseline includes a warmed-up heap and code. */
export async function warmUp(edge: EdgeChild, path: string, expected: Buffer): Promise<number> {
  for (let i = 0; i < 5; i++) {
    const r = await request(edge.url + path)
    expect(r.status).toBe(200)
    expect(r.body.equals(expected)).toBe(true)
  }
  await request(edge.url + '/healthz')
  return edge.rss()
}

export function expectRssBound(m: Measured<unknown>, maxMemoryBytes: number): void {
  expect(m.aborted, 'edge RSS passed the 1.5 GiB abort line').toBe(false)
  expect(
    m.peak,
    `peak RSS ${mb(m.peak)} vs baseline ${mb(m.baseline)} + ${mb(maxMemoryBytes)} + ${mb(FIXED_OVERHEAD)}`
  ).toBeLessThan(m.baseline + maxMemoryBytes + FIXED_OVERHEAD)
}

/** The edge is alive and a victim on a fresh connection gets `path` with exactly `expected`. */
export async function expectVictim(
  edge: EdgeChild,
  path: string,
  expected: Buffer,
  headers: Record<string, string> = {}
): Promise<Reply> {
  expect(
    edge.alive(),
    `edge process exited (code ${String(edge.child.exitCode)}, signal ${String(edge.child.signalCode)})`
  ).toBe(true)
  const r = await request(edge.url + path, { headers, timeoutMs: 15_000 })
  expect(r.status).toBe(200)
  expect(r.body.length).toBe(expected.length)
  expect(r.body.equals(expected)).toBe(true)
  expect(edge.alive()).toBe(true)
  return r
}

export interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  ms: number
}

export interface RequestOptions {
  method?: string
  headers?: Record<string, string | string[]>
  body?: string | Buffer
  localAddress?: string
  timeoutMs?: number
}

/** One request on its own connection (no agent pooling between attacker and victim). */
export async function request(url: string, opts: RequestOptions = {}): Promise<Reply> {
  const started = performance.now()
  return await new Promise<Reply>((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false,
        localAddress: opts.localAddress,
        timeout: opts.timeoutMs ?? 10_000
      },
      res => {
        const parts: Buffer[] = []
        res.on('data', (c: Buffer) => parts.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
            ms: Math.round(performance.now() - started)
          })
        )
        res.on('error', reject)
        res.on('aborted', () => reject(new Error('response aborted')))
      }
    )
    req.on('timeout', () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 10_000} ms: ${url}`)))
    req.on('error', reject)
    req.end(opts.body)
  })
}

/**
 * Send exact bytes and collect everything the edge sends until it closes, `idleMs`
 * passes without data, or `timeoutMs` in total.
 */
export async function raw(
  port: number,
  data: string | Buffer | Array<string | Buffer>,
  opts: { idleMs?: number; timeoutMs?: number; endAfterWrite?: boolean } = {}
): Promise<Buffer> {
  return await new Promise<Buffer>(resolve => {
    const socket = net.connect(port, '127.0.0.1')
    const parts: Buffer[] = []
    let idle: NodeJS.Timeout | undefined
    const done = (): void => {
      clearTimeout(idle)
      clearTimeout(total)
      socket.destroy()
      resolve(Buffer.concat(parts))
    }
    const arm = (): void => {
      clearTimeout(idle)
      idle = setTimeout(done, opts.idleMs ?? 500)
    }
    const total = setTimeout(done, opts.timeoutMs ?? 5000)
    socket.on('connect', () => {
      for (const d of Array.isArray(data) ? data : [data]) socket.write(d)
      if (opts.endAfterWrite === true) socket.end()
      arm()
    })
    socket.on('data', (c: Buffer) => {
      parts.push(c)
      arm()
    })
    socket.on('error', done)
    socket.on('close', done)
  })
}

/** A client that sends a request and never reads its answer (the socket stays paused). */
export async function nonReader(port: number, data: string): Promise<net.Socket> {
  return await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.pause()
    socket.once('connect', () => {
      socket.write(data)
      resolve(socket)
    })
    socket.once('error', reject)
  })
}

export function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: edge.test\r\n${extra}\r\n`
}

/** Run `count` tasks with at most `width` at a time. */
export async function bounded(
  count: number,
  width: number,
  task: (i: number) => Promise<void>,
  signal?: AbortSignal
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count && signal?.aborted !== true) await task(next++)
  }
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker))
}

export async function metric(edge: EdgeChild, name: string): Promise<number | undefined> {
  const r = await request(edge.url + '/metrics')
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(r.body.toString())
  return m === null ? undefined : Number(m[1])
}

export function rssFigures(m: Measured<unknown>, maxMemoryBytes: number): Record<string, unknown> {
  return {
    baseline: mb(m.baseline),
    peak: mb(m.peak),
    growth: mb(m.peak - m.baseline),
    bound: mb(m.baseline + maxMemoryBytes + FIXED_OVERHEAD),
    aborted: m.aborted,
    attackMs: m.ms,
    attackError:
      m.error === undefined ? undefined : m.error instanceof Error ? String(m.error) : JSON.stringify(m.error)
  }
}

export { MiB, mb, RSS_ABORT, rssOf, underAttack, until } from '../../support/measure.js'
export type { Measured } from '../../support/measure.js'

/** One line of figures for the before/after table. */
export function record(test: string, figures: Record<string, unknown>): void {
  recordFigures('adversarial-edge', test, figures)
}
