/**
 * `npm run bench:tracker`: the same load against our tracker (A) and bittorrent-tracker's
 * `Server` (B), alternating A B A B. Servers and the load generator run in child
 * processes; this process only orchestrates and reports. Prints a Markdown table and one
 * JSON line, and writes both under bench/results/.
 *
 * Per round: 5,000 peers connect and each announces `started` to 2 of 32 info_hashes
 * (16 pairs), then: (4) memory per peer after GC; (1) closed loop without offers; (2) closed
 * loop with 5 offers of ~600 B; (5) open loop at 1,000 announces/s; (3) every peer joins
 * one big swarm, closed loop with offers there, compared with (2).
 */
import { execSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import type { LoadCommand, LoadReply, ServerReport } from './messages.js'

const PEERS = Number(process.env.BENCH_PEERS ?? 5000)
const LOOP_MS = Number(process.env.BENCH_LOOP_MS ?? 10_000)
const OPEN_RATE = 1000
const OPEN_MS = 5000
const ROUNDS = ['ours', 'theirs', 'ours', 'theirs'] as const
type Kind = typeof ROUNDS[number]
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
  heapPerPeerBytes: number
  rssPerPeerBytes: number
  p50Ms: number
  p99Ms: number
  failures: number
}

/** Children get this many file descriptors; each holds one per peer plus some. */
function fdLimitScript (): string {
  const needed = PEERS + 1000
  let current = Number.POSITIVE_INFINITY
  try {
    const text = execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim()
    current = text === 'unlimited' ? Number.POSITIVE_INFINITY : Number(text)
  } catch {}
  if (current >= needed) return ''
  process.stderr.write(`bench: ulimit -n is ${current}, ${PEERS} peers need ${needed}; raising it for the children (fails clearly with EMFILE if the hard limit is lower)\n`)
  return `ulimit -n ${needed} 2>/dev/null || echo "bench: could not raise ulimit -n to ${needed}; run 'ulimit -n ${needed}' first" >&2; `
}
const FD_SCRIPT = fdLimitScript()

/** A TypeScript child with IPC, through sh so that it can raise its fd limit. */
function child (file: string, args: string[], gc: boolean): ChildProcess {
  const node = [process.execPath, ...(gc ? ['--expose-gc'] : []), '--import', 'tsx', join(here, file), ...args]
  const quoted = node.map(a => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  return spawn('/bin/sh', ['-c', `${FD_SCRIPT}exec ${quoted}`], { cwd: root, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

function request<T> (proc: ChildProcess, msg: unknown, accept: (reply: unknown) => reply is T): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no reply to ${JSON.stringify(msg)} within ${STEP_TIMEOUT_MS} ms`)) }, STEP_TIMEOUT_MS)
    const onMessage = (reply: unknown): void => {
      if (typeof reply === 'object' && reply !== null && (reply as { type?: string }).type === 'error') {
        cleanup()
        reject(new Error((reply as { message: string }).message))
      } else if (accept(reply)) {
        cleanup()
        resolve(reply)
      }
    }
    const onExit = (code: number | null): void => { cleanup(); reject(new Error(`child exited with ${String(code)}`)) }
    const cleanup = (): void => { clearTimeout(timer); proc.off('message', onMessage); proc.off('exit', onExit) }
    proc.on('message', onMessage)
    proc.once('exit', onExit)
    if (msg !== undefined) proc.send(msg as object)
  })
}

const isType = <T>(type: string) => (reply: unknown): reply is T => (reply as { type?: string }).type === type
const load = async (proc: ChildProcess, cmd: LoadCommand): Promise<Extract<LoadReply, { type: 'done' }>> =>
  await request(proc, cmd, isType<Extract<LoadReply, { type: 'done' }>>('done'))
const measure = async (proc: ChildProcess): Promise<ServerReport> => await request(proc, { type: 'measure' }, isType<ServerReport>('measure'))

async function round (kind: Kind): Promise<RoundResult> {
  const server = child('server.ts', [kind], true)
  const loader = child('load.ts', [], false)
  try {
    const { port } = await request(server, undefined, isType<{ type: 'ready', port: number }>('ready'))
    const base = await measure(server)
    await load(loader, { type: 'connect', url: `ws://127.0.0.1:${port}`, peers: PEERS })
    const joined = await load(loader, { type: 'join', swarms: 'sixteen' })
    const mem = await measure(server)

    const loop = async (swarms: 'sixteen' | 'one', offers: boolean): Promise<{ perSec: number, perCpuSec: number, failures: number }> => {
      const before = await measure(server)
      const result = await load(loader, { type: 'closed', swarms, offers, durationMs: LOOP_MS })
      const after = await measure(server)
      const cpuS = (after.cpuUs - before.cpuUs) / 1e6
      return { perSec: result.replies / (result.elapsedMs / 1000), perCpuSec: result.replies / cpuS, failures: result.failures }
    }
    const plain = await loop('sixteen', false)
    const offers = await loop('sixteen', true)
    const open = await load(loader, { type: 'open', ratePerSec: OPEN_RATE, durationMs: OPEN_MS })
    await load(loader, { type: 'join', swarms: 'one' })
    const bigSwarm = await loop('one', true)
    await load(loader, { type: 'close' })

    const latencies = (open.latenciesMs ?? []).sort((a, b) => a - b)
    return {
      announcesPerSec: plain.perSec,
      announcesPerCpuSec: plain.perCpuSec,
      offersPerSec: offers.perSec,
      offersPerCpuSec: offers.perCpuSec,
      bigSwarmPerSec: bigSwarm.perSec,
      heapPerPeerBytes: (mem.heapUsed - base.heapUsed) / PEERS,
      rssPerPeerBytes: (mem.rss - base.rss) / PEERS,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      failures: joined.failures + plain.failures + offers.failures + bigSwarm.failures + open.failures
    }
  } finally {
    server.kill('SIGKILL')
    loader.kill('SIGKILL')
  }
}

function percentile (sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

async function main (): Promise<void> {
  const results: Record<Kind, RoundResult[]> = { ours: [], theirs: [] }
  const started = Date.now()
  for (const [i, kind] of ROUNDS.entries()) {
    process.stderr.write(`bench: round ${i + 1}/${ROUNDS.length} (${kind})...\n`)
    const r = await round(kind)
    process.stderr.write(`  ${JSON.stringify(roundFixed(r))}\n`)
    results[kind].push(r)
  }
  const med = (kind: Kind, key: keyof RoundResult): number => median(results[kind].map(r => r[key]))
  const ours = (key: keyof RoundResult): number => med('ours', key)
  const theirs = (key: keyof RoundResult): number => med('theirs', key)
  const ratioBig = (kind: Kind): number => med(kind, 'bigSwarmPerSec') / med(kind, 'offersPerSec')

  const rows: Array<[string, number, number, number, string]> = [
    ['(1) announces/s, no offers', ours('announcesPerSec'), theirs('announcesPerSec'), ours('announcesPerSec') / theirs('announcesPerSec'), '>= 2x'],
    ['(1) announces per server CPU-second', ours('announcesPerCpuSec'), theirs('announcesPerCpuSec'), ours('announcesPerCpuSec') / theirs('announcesPerCpuSec'), ''],
    ['(2) announces/s, 5 offers of 600 B', ours('offersPerSec'), theirs('offersPerSec'), ours('offersPerSec') / theirs('offersPerSec'), '>= 2x'],
    ['(2) announces per server CPU-second, offers', ours('offersPerCpuSec'), theirs('offersPerCpuSec'), ours('offersPerCpuSec') / theirs('offersPerCpuSec'), ''],
    ['(3) one swarm of 5,000 / 16 swarms (throughput ratio)', ratioBig('ours'), ratioBig('theirs'), ratioBig('ours'), 'ours >= 0.9'],
    ['(4) heap per peer after GC (bytes)', ours('heapPerPeerBytes'), theirs('heapPerPeerBytes'), ours('heapPerPeerBytes') / theirs('heapPerPeerBytes'), '<= 1x'],
    ['(4) RSS per peer after GC (bytes)', ours('rssPerPeerBytes'), theirs('rssPerPeerBytes'), ours('rssPerPeerBytes') / theirs('rssPerPeerBytes'), ''],
    ['(5) p50 at 1,000 announces/s (ms)', ours('p50Ms'), theirs('p50Ms'), ours('p50Ms') / theirs('p50Ms'), ''],
    ['(5) p99 at 1,000 announces/s (ms)', ours('p99Ms'), theirs('p99Ms'), ours('p99Ms') / theirs('p99Ms'), '<= 1x']
  ]
  const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version }
  const table = [
    `Tracker bench: ${PEERS} peers, ${LOOP_MS / 1000} s closed loops, rounds ${ROUNDS.join(' ')}, medians. ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}.`,
    '',
    '| measurement | p2pcdn | bittorrent-tracker | ratio | goal |',
    '|---|---:|---:|---:|---|',
    ...rows.map(([name, a, b, ratio, goal]) => `| ${name} | ${fmt(a)} | ${fmt(b)} | ${ratio.toFixed(2)} | ${goal} |`)
  ].join('\n')
  const json = {
    bench: 'tracker',
    date: new Date().toISOString(),
    machine,
    peers: PEERS,
    loopMs: LOOP_MS,
    rounds: ROUNDS,
    durationS: Math.round((Date.now() - started) / 1000),
    medians: Object.fromEntries(rows.map(([name, a, b, ratio]) => [name, { ours: round3(a), theirs: round3(b), ratio: round3(ratio) }])),
    raw: { ours: results.ours.map(roundFixed), theirs: results.theirs.map(roundFixed) }
  }
  process.stdout.write(`${table}\n\n${JSON.stringify(json)}\n`)
  const dir = join(root, 'bench/results')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'tracker.json'), `${JSON.stringify(json, null, 2)}\n`)
  writeFileSync(join(dir, 'tracker.md'), `${table}\n`)
}

function fmt (n: number): string {
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)
}
function round3 (n: number): number {
  return Math.round(n * 1000) / 1000
}
function roundFixed (r: RoundResult): Record<string, number> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round3(v)]))
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
