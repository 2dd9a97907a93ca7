/**
 * `npm run bench:tracker`: the same load against our tracker (A) and bittorrent-tracker's
 * `Server` (B), alternating A B A B. Servers and the load generator run in child
 * processes; this process only orchestrates and reports. Prints a Markdown table and one
 * JSON line, and writes both under bench/results/.
 *
 * Both servers start once, each with its own generator holding 5,000 peers that announce
 * `started` to 2 of 32 info_hashes (16 pairs). Then, each step run A B A B: (4) memory per
 * peer after GC; (1) closed loop without offers; (2) closed loop with 5 offers of ~600 B;
 * (5) open loop at 1,000 announces/s; then every peer joins one big swarm and (3) a closed
 * loop with offers there, compared with (2).
 *
 * Last, (6) a flood from one address against our tracker with production limits: an
 * honest client on 127.0.0.2 announces every 60 ms, first quiet, then while 200 sockets
 * from 127.0.0.1 each announce with 10 offers 18 times a second (under the per-socket
 * limit of 20/s); its reply latency (median, p99) in both phases. `BENCH_ONLY=flood`
 * runs that step alone (about 15 s) and writes bench/results/tracker-flood.*.
 */
import { execSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import { machine as machineInfo, median, quantile, writeResults } from '../common/report.js'
import { request } from '../common/ipc.js'
import type { LoadCommand, LoadReply, ServerReport } from './messages.js'

const PEERS = Number(process.env.BENCH_PEERS ?? 5000)
const LOOP_MS = Number(process.env.BENCH_LOOP_MS ?? 10_000)
const OPEN_RATE = 1000
const OPEN_MS = 4000
const OPEN_REPEATS = 5
const ROUNDS = ['ours', 'theirs', 'ours', 'theirs'] as const
type Kind = (typeof ROUNDS)[number]
const FLOOD_SOCKETS = 200
const FLOOD_SWARMS = 10
const FLOOD_RATE_PER_SOCKET = 18
/** The tracker's default maxOffersPerAnnounce: the most an announce gets forwarded. */
const FLOOD_OFFERS = 10
const FLOOD_MS = 5000
const HONEST_EVERY_MS = 60
/** An honest reply later than this counts as lost. */
const HONEST_TIMEOUT_MS = 10_000
/** Any one step taking longer than this means something hung. */
const STEP_TIMEOUT_MS = 90_000

const here = import.meta.dirname
const root = join(here, '../..')

interface RoundResult {
  announcesPerSec: number
  announcesPerCpuSec: number
  offersPerSec: number
  offersPerCpuSec: number
  bigSwarmPerSec: number
  bigSwarmPerCpuSec: number
  heapPerPeerBytes: number
  rssPerPeerBytes: number
  p50Ms: number
  p99Ms: number
  failures: number
}

/** Children get this many file descriptors; each holds one per peer plus some. */
function fdLimitScript(): string {
  const needed = PEERS + 1000
  let current = Number.POSITIVE_INFINITY
  try {
    const text = execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim()
    current = text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text)
  } catch {}
  if (current >= needed) return ''
  process.stderr.write(
    `bench: ulimit -n is ${current}, ${PEERS} peers need ${needed}; raising it for the children (fails clearly with EMFILE if the hard limit is lower)\n`
  )
  return `ulimit -n ${needed} 2>/dev/null || echo "bench: could not raise ulimit -n to ${needed}; run 'ulimit -n ${needed}' first" >&2; `
}
const FD_SCRIPT = fdLimitScript()

/** A TypeScript child with IPC, through sh so that it can raise its fd limit. */
function child(file: string, args: string[], gc: boolean): ChildProcess {
  const node = [process.execPath, ...(gc ? ['--expose-gc'] : []), '--import', 'tsx', join(here, file), ...args]
  const quoted = node.map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  return spawn('/bin/sh', ['-c', `${FD_SCRIPT}exec ${quoted}`], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
}

const load = async (proc: ChildProcess, cmd: LoadCommand): Promise<Extract<LoadReply, { type: 'done' }>> =>
  await request<Extract<LoadReply, { type: 'done' }>>(proc, cmd, 'done', STEP_TIMEOUT_MS)
const measure = async (proc: ChildProcess): Promise<ServerReport> =>
  await request<ServerReport>(proc, { type: 'measure' }, 'measure', STEP_TIMEOUT_MS)

/** One server under test and its own load generator, both kept for the whole run. */
interface Pair {
  kind: Kind
  server: ChildProcess
  loader: ChildProcess
}

async function startPair(kind: Kind): Promise<Pair & { base: ServerReport }> {
  const server = child('server.ts', [kind], true)
  const loader = child('load.ts', [], false)
  const { port } = await request<{ type: 'ready'; port: number }>(server, undefined, 'ready', STEP_TIMEOUT_MS)
  const base = await measure(server)
  await load(loader, { type: 'connect', url: `ws://127.0.0.1:${port}`, peers: PEERS })
  const joined = await load(loader, { type: 'join', swarms: 'sixteen' })
  if (joined.failures > 0) throw new Error(`${kind}: ${joined.failures} joins failed`)
  return { kind, server, loader, base }
}

async function closedLoop(
  pair: Pair,
  swarms: 'sixteen' | 'one',
  offers: boolean
): Promise<{ perSec: number; perCpuSec: number; failures: number }> {
  const before = await measure(pair.server)
  const result = await load(pair.loader, { type: 'closed', swarms, offers, durationMs: LOOP_MS })
  const after = await measure(pair.server)
  const cpuS = (after.cpuUs - before.cpuUs) / 1e6
  return {
    perSec: result.replies / (result.elapsedMs / 1000),
    perCpuSec: result.replies / cpuS,
    failures: result.failures
  }
}

/**
 * Both servers stay up with their peers connected, and every measurement runs A B A B
 * back to back, so a burst of other work on the machine hits both about equally.
 */
async function runAll(): Promise<Record<Kind, RoundResult[]>> {
  const pairs: Record<Kind, Pair & { base: ServerReport }> = {
    ours: await startPair('ours'),
    theirs: await startPair('theirs')
  }
  try {
    const results: Record<Kind, RoundResult[]> = { ours: [], theirs: [] }
    const blank = (): RoundResult => ({
      announcesPerSec: 0,
      announcesPerCpuSec: 0,
      offersPerSec: 0,
      offersPerCpuSec: 0,
      bigSwarmPerSec: 0,
      bigSwarmPerCpuSec: 0,
      heapPerPeerBytes: 0,
      rssPerPeerBytes: 0,
      p50Ms: 0,
      p99Ms: 0,
      failures: 0
    })
    for (const kind of ROUNDS) results[kind].push(blank())
    const each = async (
      label: string,
      step: (pair: Pair & { base: ServerReport }, r: RoundResult) => Promise<void>
    ): Promise<void> => {
      const seen: Record<Kind, number> = { ours: 0, theirs: 0 }
      for (const kind of ROUNDS) {
        process.stderr.write(`bench: ${label} (${kind})\n`)
        await step(pairs[kind], results[kind][seen[kind]++]!)
      }
    }
    await each('memory per peer', async (pair, r) => {
      const mem = await measure(pair.server)
      r.heapPerPeerBytes = (mem.heapUsed - pair.base.heapUsed) / PEERS
      r.rssPerPeerBytes = (mem.rss - pair.base.rss) / PEERS
    })
    await each('closed loop, no offers', async (pair, r) => {
      const m = await closedLoop(pair, 'sixteen', false)
      Object.assign(r, {
        announcesPerSec: m.perSec,
        announcesPerCpuSec: m.perCpuSec,
        failures: r.failures + m.failures
      })
    })
    await each('closed loop, 5 offers', async (pair, r) => {
      const m = await closedLoop(pair, 'sixteen', true)
      Object.assign(r, { offersPerSec: m.perSec, offersPerCpuSec: m.perCpuSec, failures: r.failures + m.failures })
    })
    // A tail percentile is at the mercy of one stall (a GC, another process taking the
    // core), so the open loop runs A B A B OPEN_REPEATS times, and each server keeps its median.
    const tails: Record<Kind, Array<{ p50: number; p99: number }>> = { ours: [], theirs: [] }
    for (let i = 0; i < OPEN_REPEATS; i++) {
      await each(`open loop at ${OPEN_RATE}/s, ${i + 1}/${OPEN_REPEATS}`, async (pair, r) => {
        const open = await load(pair.loader, { type: 'open', ratePerSec: OPEN_RATE, durationMs: OPEN_MS })
        const latencies = (open.latenciesMs ?? []).sort((a, b) => a - b)
        tails[pair.kind].push({ p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) })
        r.failures += open.failures
      })
    }
    for (const kind of ['ours', 'theirs'] as const) {
      for (const r of results[kind]) {
        r.p50Ms = median(tails[kind].map(t => t.p50))
        r.p99Ms = median(tails[kind].map(t => t.p99))
      }
      process.stderr.write(
        `bench: open-loop p99 of ${kind}, each run: ${tails[kind].map(t => t.p99.toFixed(2)).join(', ')} ms\n`
      )
    }
    for (const kind of ['ours', 'theirs'] as const) await load(pairs[kind].loader, { type: 'join', swarms: 'one' })
    await each('closed loop, one big swarm, 5 offers', async (pair, r) => {
      const m = await closedLoop(pair, 'one', true)
      Object.assign(r, { bigSwarmPerSec: m.perSec, bigSwarmPerCpuSec: m.perCpuSec, failures: r.failures + m.failures })
    })
    return results
  } finally {
    for (const pair of Object.values(pairs)) {
      pair.server.kill('SIGKILL')
      pair.loader.kill('SIGKILL')
    }
  }
}

interface FloodResult {
  quiet: { p50Ms: number; p99Ms: number; replies: number; lost: number }
  flood: { p50Ms: number; p99Ms: number; replies: number; lost: number }
  floodSent: number
  floodServed: number
  floodWarned: number
  floodRefused: number
}

/** A client on its own address announcing every HONEST_EVERY_MS; latency of each reply. */
async function honestClient(
  url: string
): Promise<{ measure: (ms: number) => Promise<FloodResult['quiet']>; close: () => void }> {
  const ws = new WebSocket(url, { localAddress: '127.0.0.2' })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const infoHash = 'bench-honest-swarm!!'
  const peerId = 'bench-honest-peer!!!'
  let waiting: ((ok: boolean) => void) | undefined
  ws.on('message', data => {
    const text = String(data)
    if (text.includes('"interval"') || text.includes('"failure reason"')) waiting?.(!text.includes('"failure reason"'))
  })
  const announce = async (event: string): Promise<boolean> =>
    await new Promise<boolean>(resolve => {
      const timer = setTimeout(() => {
        waiting = undefined
        resolve(false)
      }, HONEST_TIMEOUT_MS)
      waiting = ok => {
        clearTimeout(timer)
        waiting = undefined
        resolve(ok)
      }
      ws.send(
        JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: peerId, event, numwant: 0, left: 1000 })
      )
    })
  if (!(await announce('started'))) throw new Error('honest client: no reply to its first announce')
  return {
    async measure(ms) {
      const latencies: number[] = []
      let lost = 0
      const end = Date.now() + ms
      while (Date.now() < end) {
        const sentAt = performance.now()
        if (await announce('update')) latencies.push(performance.now() - sentAt)
        else lost++
        const wait = HONEST_EVERY_MS - (performance.now() - sentAt)
        if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
      }
      latencies.sort((a, b) => a - b)
      return { p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), replies: latencies.length, lost }
    },
    close: () => ws.close()
  }
}

/** Step (6): the honest client's latency, quiet and under a flood from one address. */
async function floodStep(): Promise<FloodResult> {
  const server = child('server.ts', ['ours', 'flood'], true)
  const loader = child('load.ts', [], false)
  try {
    const { port } = await request<{ type: 'ready'; port: number }>(server, undefined, 'ready', STEP_TIMEOUT_MS)
    const url = `ws://127.0.0.1:${port}`
    const honest = await honestClient(url)
    process.stderr.write('bench: (6) honest client, quiet\n')
    const quiet = await honest.measure(FLOOD_MS)
    process.stderr.write(`bench: (6) honest client under a flood of ${FLOOD_SOCKETS} sockets from one address\n`)
    const flooding = load(loader, {
      type: 'flood',
      url,
      sockets: FLOOD_SOCKETS,
      swarms: FLOOD_SWARMS,
      ratePerSocket: FLOOD_RATE_PER_SOCKET,
      offers: FLOOD_OFFERS,
      durationMs: FLOOD_MS,
      localAddress: '127.0.0.1'
    })
    const flood = await honest.measure(FLOOD_MS)
    const done = await flooding
    honest.close()
    return {
      quiet,
      flood,
      floodSent: done.sent ?? 0,
      floodServed: done.replies,
      floodWarned: done.warned ?? 0,
      floodRefused: done.failures
    }
  } finally {
    server.kill('SIGKILL')
    loader.kill('SIGKILL')
  }
}

function floodTable(f: FloodResult): string {
  return [
    `(6) Honest client on another address, announcing every ${HONEST_EVERY_MS} ms, quiet and while ${FLOOD_SOCKETS} sockets from one address each announce with ${FLOOD_OFFERS} offers ${FLOOD_RATE_PER_SOCKET}/s (production limits).`,
    '',
    '| phase | p50 (ms) | p99 (ms) | replies | lost |',
    '|---|---:|---:|---:|---:|',
    `| quiet | ${f.quiet.p50Ms.toFixed(2)} | ${f.quiet.p99Ms.toFixed(2)} | ${f.quiet.replies} | ${f.quiet.lost} |`,
    `| flood | ${f.flood.p50Ms.toFixed(2)} | ${f.flood.p99Ms.toFixed(2)} | ${f.flood.replies} | ${f.flood.lost} |`,
    '',
    `Flood: ${f.floodSent} messages sent, ${f.floodServed} served (${f.floodWarned} of them with a warning), ${f.floodRefused} limit replies.`
  ].join('\n')
}

async function main(): Promise<void> {
  const started = Date.now()
  if (process.env.BENCH_ONLY === 'flood') {
    const f = await floodStep()
    await writeResults('tracker-flood', floodTable(f), {
      bench: 'tracker-flood',
      date: new Date().toISOString(),
      machine: machineInfo(),
      flood: roundDeep(f)
    })
    return
  }
  // Other work on the machine shows here; wall-clock rates suffer from it, per-CPU-second rates much less.
  const loadBefore = loadavg()[0]!
  const results = await runAll()
  const flood = await floodStep()
  const med = (kind: Kind, key: keyof RoundResult): number => median(results[kind].map(r => r[key]))
  const ours = (key: keyof RoundResult): number => med('ours', key)
  const theirs = (key: keyof RoundResult): number => med('theirs', key)
  const ratioBig = (kind: Kind): number => med(kind, 'bigSwarmPerSec') / med(kind, 'offersPerSec')
  const ratioBigCpu = (kind: Kind): number => med(kind, 'bigSwarmPerCpuSec') / med(kind, 'offersPerCpuSec')

  const rows: Array<[string, number, number, number, string]> = [
    [
      '(1) announces/s, no offers',
      ours('announcesPerSec'),
      theirs('announcesPerSec'),
      ours('announcesPerSec') / theirs('announcesPerSec'),
      '>= 2x'
    ],
    [
      '(1) announces per server CPU-second',
      ours('announcesPerCpuSec'),
      theirs('announcesPerCpuSec'),
      ours('announcesPerCpuSec') / theirs('announcesPerCpuSec'),
      ''
    ],
    [
      '(2) announces/s, 5 offers of 600 B',
      ours('offersPerSec'),
      theirs('offersPerSec'),
      ours('offersPerSec') / theirs('offersPerSec'),
      '>= 2x'
    ],
    [
      '(2) announces per server CPU-second, offers',
      ours('offersPerCpuSec'),
      theirs('offersPerCpuSec'),
      ours('offersPerCpuSec') / theirs('offersPerCpuSec'),
      ''
    ],
    [
      '(3) one swarm of 5,000 / 16 swarms (throughput ratio)',
      ratioBig('ours'),
      ratioBig('theirs'),
      ratioBig('ours'),
      'ours >= 0.9'
    ],
    ['(3) the same, per server CPU-second', ratioBigCpu('ours'), ratioBigCpu('theirs'), ratioBigCpu('ours'), ''],
    [
      '(4) heap per peer after GC (bytes)',
      ours('heapPerPeerBytes'),
      theirs('heapPerPeerBytes'),
      ours('heapPerPeerBytes') / theirs('heapPerPeerBytes'),
      '<= 1x'
    ],
    [
      '(4) RSS per peer after GC (bytes)',
      ours('rssPerPeerBytes'),
      theirs('rssPerPeerBytes'),
      ours('rssPerPeerBytes') / theirs('rssPerPeerBytes'),
      ''
    ],
    ['(5) p50 at 1,000 announces/s (ms)', ours('p50Ms'), theirs('p50Ms'), ours('p50Ms') / theirs('p50Ms'), ''],
    ['(5) p99 at 1,000 announces/s (ms)', ours('p99Ms'), theirs('p99Ms'), ours('p99Ms') / theirs('p99Ms'), '<= 1x']
  ]
  const machine = { ...machineInfo(), loadAverage: { before: round3(loadBefore), after: round3(loadavg()[0]!) } }
  const table = [
    `Tracker bench: ${PEERS} peers, ${LOOP_MS / 1000} s closed loops, rounds ${ROUNDS.join(' ')}, medians. ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, load average ${machine.loadAverage.before} before / ${machine.loadAverage.after} after.`,
    '',
    '| measurement | p2pcdn | bittorrent-tracker | ratio | goal |',
    '|---|---:|---:|---:|---|',
    ...rows.map(([name, a, b, ratio, goal]) => `| ${name} | ${fmt(a)} | ${fmt(b)} | ${ratio.toFixed(2)} | ${goal} |`),
    '',
    floodTable(flood)
  ].join('\n')
  const json = {
    bench: 'tracker',
    date: new Date().toISOString(),
    machine,
    peers: PEERS,
    loopMs: LOOP_MS,
    rounds: ROUNDS,
    durationS: Math.round((Date.now() - started) / 1000),
    medians: Object.fromEntries(
      rows.map(([name, a, b, ratio]) => [name, { ours: round3(a), theirs: round3(b), ratio: round3(ratio) }])
    ),
    raw: { ours: results.ours.map(roundFixed), theirs: results.theirs.map(roundFixed) },
    flood: roundDeep(flood)
  }
  await writeResults('tracker', table, json)
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)
}
function round3(n: number): number {
  return Math.round(n * 1000) / 1000
}
function roundDeep<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' ? round3(v) : v))) as T
}
function roundFixed(r: RoundResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round3(v)]))
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
