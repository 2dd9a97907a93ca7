/**
 * Shared harness for the adversarial tracker suite: the tracker runs in a child process
 * (test/helpers/tracker-gc-server.ts), so its memory is the real RSS of a process that
 * holds nothing else, and a crash shows as an exit. Attacks run under an RSS sampler
 * (VmRSS from /proc every 50 ms); attackers and victims are real `ws` clients, each bound
 * to its own loopback address (`localAddress`: all of 127.0.0.0/8 is local on Linux) so
 * that per-address limits see them as the hosts they play.
 *
 * Every test records its figures with `record()`: one JSON line on stderr and, when
 * ADV_FIGURES is set, appended to that file, so one run yields the before/after table.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { appendFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import type { TrackerInit } from '../../../../tracker/src/index.js'
import { connectRaw, getJson } from '../../../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../../../helpers/tracker-client.js'

const CHILD = join(import.meta.dirname, '..', '..', '..', 'helpers', 'tracker-gc-server.ts')

export const MiB = 1024 * 1024

/** Past this the sampler kills the tracker: a before-run must not exhaust the machine. */
export const RSS_ABORT = 1536 * MiB

export interface TrackerChild {
  proc: ChildProcess
  pid: number
  url: string
  httpUrl: string
  alive: () => boolean
  rss: () => number
  stats: () => Promise<Json>
  /** The value of one Prometheus series, e.g. `p2pcdn_tracker_rejects_total{reason="slow-reader"}`; 0 when absent. */
  metric: (series: string) => Promise<number>
  stop: () => Promise<void>
}

const children: TrackerChild[] = []

/** Start a tracker in a child process with `init` (the port is always 0). */
export async function startTracker (init: TrackerInit = {}): Promise<TrackerChild> {
  const proc = fork(CHILD, [JSON.stringify(init)], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('message', msg => resolve((msg as { port: number }).port))
    proc.once('exit', code => reject(new Error(`tracker exited with ${String(code)} before listening`)))
  })
  const pid = proc.pid ?? -1
  const httpUrl = `http://127.0.0.1:${port}`
  const alive = (): boolean => proc.exitCode === null && proc.signalCode === null
  const child: TrackerChild = {
    proc,
    pid,
    url: `ws://127.0.0.1:${port}`,
    httpUrl,
    alive,
    rss: () => rssOf(pid),
    stats: async () => (await getJson(`${httpUrl}/stats`)).body as Json,
    async metric (series) {
      const text = await (await fetch(`${httpUrl}/metrics`)).text()
      const line = text.split('\n').find(l => l.startsWith(`${series} `))
      return line === undefined ? 0 : Number(line.slice(series.length + 1))
    },
    async stop () {
      if (!alive()) return
      const exited = new Promise(resolve => proc.once('exit', resolve))
      proc.kill('SIGKILL')
      await exited
    }
  }
  children.push(child)
  return child
}

/** Kill every tracker child started so far (for afterAll/afterEach). */
export async function stopTrackers (): Promise<void> {
  await Promise.all(children.splice(0).map(async c => await c.stop()))
}

export function rssOf (pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

export interface Measured<T> {
  result: T | undefined
  error: unknown
  baseline: number
  peak: number
  /** RSS passed RSS_ABORT and the tracker was killed. */
  aborted: boolean
  ms: number
}

/**
 * Run `attack` while sampling the tracker's RSS every 50 ms. Over RSS_ABORT the tracker
 * is killed and `signal` aborts. The attack's error is returned, not thrown, so that the
 * caller can still report the figures.
 */
export async function underAttack<T> (tracker: TrackerChild, attack: (signal: AbortSignal) => Promise<T>, baseline = tracker.rss()): Promise<Measured<T>> {
  const controller = new AbortController()
  let peak = tracker.rss()
  let aborted = false
  const timer = setInterval(() => {
    const now = tracker.rss()
    if (now > peak) peak = now
    if (now > RSS_ABORT && !aborted) {
      aborted = true
      tracker.proc.kill('SIGKILL')
      controller.abort(new Error(`tracker RSS ${mb(now)} over the ${mb(RSS_ABORT)} abort line`))
    }
  }, 50)
  const started = performance.now()
  let result: T | undefined
  let error: unknown
  try {
    result = await Promise.race([
      attack(controller.signal),
      new Promise<never>((_resolve, reject) => controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error)))
    ])
  } catch (err) {
    error = err
  } finally {
    clearInterval(timer)
  }
  const last = tracker.rss()
  if (last > peak) peak = last
  return { result, error, baseline, peak, aborted, ms: Math.round(performance.now() - started) }
}

/**
 * A socket for floods: counts what it receives by kind and keeps nothing, so a flood
 * does not pile up in the test process. `onMessage` sees every parsed message.
 */
export interface FloodSocket {
  ws: WebSocket
  counts: { replies: number, warnings: number, failures: number, offers: number, answers: number, other: number }
  /** Failure replies received (the first few), to check their shape. */
  failures: Json[]
  send: (message: Json) => void
  closed: Promise<number>
}

export async function openFlood (url: string, localAddress: string, onMessage?: (msg: Json, self: FloodSocket) => void): Promise<FloodSocket> {
  const ws = new WebSocket(url, { localAddress })
  ws.on('error', () => {})
  const self: FloodSocket = {
    ws,
    counts: { replies: 0, warnings: 0, failures: 0, offers: 0, answers: 0, other: 0 },
    failures: [],
    send: message => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message)) },
    closed: new Promise(resolve => ws.once('close', code => resolve(code)))
  }
  ws.on('message', data => {
    const msg = JSON.parse(String(data)) as Json
    const c = self.counts
    if ('failure reason' in msg) {
      c.failures++
      if (self.failures.length < 8) self.failures.push(msg)
    } else if ('offer' in msg) c.offers++
    else if ('answer' in msg) c.answers++
    else if ('interval' in msg) {
      c.replies++
      if ('warning message' in msg) c.warnings++
    } else c.other++
    onMessage?.(msg, self)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return self
}

/** A queueing raw client (test/helpers/tracker-client.ts) bound to `localAddress`. */
export async function connectFrom (url: string, localAddress: string): Promise<RawTrackerClient> {
  return await connectRaw(url, { localAddress })
}

/** Poll `cond` every 20 ms for at most `timeoutMs`; resolves with whether it held. */
export async function until (cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!await cond()) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

/** Sorted copy's quantile `q` (0..1); 0 for an empty list. */
export function quantile (values: number[], q: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

export function mb (bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`
}

/** One line of figures for the before/after table (stderr, and ADV_FIGURES when set). */
export function record (test: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ suite: 'adversarial-tracker', test, ...figures })
  process.stderr.write(`${line}\n`)
  const file = process.env.ADV_FIGURES
  if (file !== undefined && file !== '') appendFileSync(file, `${line}\n`)
}
