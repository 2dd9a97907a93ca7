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
import { join } from 'node:path'
import { WebSocket } from 'ws'
import type { TrackerInit } from '../../../../tracker/src/index.js'
import { connectRaw, getJson } from '../../../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../../../helpers/tracker-client.js'
import { record as recordFigures, rssOf } from '../../support/measure.js'

const CHILD = join(import.meta.dirname, '..', '..', '..', 'helpers', 'tracker-gc-server.ts')

export interface TrackerChild {
  proc: ChildProcess
  pid: number
  url: string
  httpUrl: string
  alive: () => boolean
  rss: () => number
  /** SIGKILL, for the RSS sampler. */
  kill: () => void
  stats: () => Promise<Json>
  /** The value of one Prometheus series, e.g. `p2pcdn_tracker_rejects_total{reason="slow-reader"}`; 0 when absent. */
  metric: (series: string) => Promise<number>
  stop: () => Promise<void>
}

const children: TrackerChild[] = []

/** Start a tracker in a child process with `init` (the port is always 0). */
export async function startTracker(init: TrackerInit = {}): Promise<TrackerChild> {
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
    kill: () => {
      proc.kill('SIGKILL')
    },
    stats: async () => (await getJson(`${httpUrl}/stats`)).body as Json,
    async metric(series) {
      const text = await (await fetch(`${httpUrl}/metrics`)).text()
      const line = text.split('\n').find(l => l.startsWith(`${series} `))
      return line === undefined ? 0 : Number(line.slice(series.length + 1))
    },
    async stop() {
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
export async function stopTrackers(): Promise<void> {
  await Promise.all(children.splice(0).map(async c => await c.stop()))
}

/**
 * A socket for floods: counts what it receives by kind and keeps nothing, so a flood
 * does not pile up in the test process. `onMessage` sees every parsed message.
 */
export interface FloodSocket {
  ws: WebSocket
  counts: { replies: number; warnings: number; failures: number; offers: number; answers: number; other: number }
  /** Failure replies received (the first few), to check their shape. */
  failures: Json[]
  send: (message: Json) => void
  closed: Promise<number>
}

export async function openFlood(
  url: string,
  localAddress: string,
  onMessage?: (msg: Json, self: FloodSocket) => void
): Promise<FloodSocket> {
  const ws = new WebSocket(url, { localAddress })
  ws.on('error', () => {})
  const self: FloodSocket = {
    ws,
    counts: { replies: 0, warnings: 0, failures: 0, offers: 0, answers: 0, other: 0 },
    failures: [],
    send: message => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message))
    },
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
export async function connectFrom(url: string, localAddress: string): Promise<RawTrackerClient> {
  return await connectRaw(url, { localAddress })
}

/** Sorted copy's quantile `q` (0..1); 0 for an empty list. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

export { MiB, mb, RSS_ABORT, rssOf, underAttack, until } from '../../support/measure.js'
export type { Measured } from '../../support/measure.js'

/** One line of figures for the before/after table. */
export function record(test: string, figures: Record<string, unknown>): void {
  recordFigures('adversarial-tracker', test, figures)
}
