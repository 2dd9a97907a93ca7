/**
 * `npm run bench:cluster`: the tracker in memory (one process), then 1, 2 and 3 tracker
 * processes sharing one Redis, then the same on a 3-node Redis Cluster. The load
 * generator (bench/tracker/load.ts, its own process) spreads BENCH_PEERS peers over the
 * processes round-robin, each peer in 2 of 32 swarms, and runs a closed loop of
 * re-announces, without and then with 5 offers each, BENCH_ROUNDS times (3) in turn; the
 * table has the medians.
 *
 * Per step: announces/s in total and per process; Redis commands per announce (`INFO
 * commandstats` summed over every Redis node, after CONFIG RESETSTAT; the bench's own
 * INFO and CONFIG left out); tracker CPU-ms per 1,000 announces (process.cpuUsage of
 * every tracker process) and the same for Redis (`INFO cpu`); and after the joins,
 * tracker heap per peer (one socket, two swarms) and Redis memory per swarm membership
 * (MEMORY USAGE of the swarm keys; `INFO memory` used_memory in the JSON, noisy as Redis
 * keeps what earlier steps freed). In-memory rows run 1-3 separate trackers (each its own
 * swarms), the baseline at the same load per process. The
 * totals depend on the cores (2 here, shared with the load generator and Redis); the
 * per-announce costs do not. Prints a Markdown table and a JSON line, and writes both
 * under bench/results/cluster.*. BENCH_PEERS, BENCH_LOOP_MS, BENCH_ROUNDS, BENCH_PROCESSES (`1,2,3`),
 * BENCH_MODES (`memory,redis,redis-cluster`; the in-memory rows always run, as the
 * baseline) and BENCH_CPU_PROF=DIR (V8 CPU profiles of the trackers) narrow or change it.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { machine as machineInfo, markdownTable, median, writeResults } from '../common/report.js'
import { request } from '../common/ipc.js'
import type { LoadCommand, LoadReply, ServerReport } from '../tracker/messages.js'
import { startRedis, startRedisCluster } from '../../test/helpers/tracker-redis.js'

const PEERS = Number(process.env.BENCH_PEERS ?? 500)
const LOOP_MS = Number(process.env.BENCH_LOOP_MS ?? 4000)
/** Closed loops per configuration and offer setting; the table has their medians. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`BENCH_ROUNDS must be a whole number from 1: ${ROUNDS}`)
const PROCESS_COUNTS = (process.env.BENCH_PROCESSES ?? '1,2,3').split(',').map(Number)
/** `BENCH_MODES=redis,redis-cluster`: leave some modes out (the in-memory rows are the baseline of the others). */
const MODES = (process.env.BENCH_MODES ?? 'memory,redis,redis-cluster').split(',')
/** Any one request to a child taking longer than this means something hung. */
const STEP_TIMEOUT_MS = 60_000
const MEMBERSHIPS = PEERS * 2

const here = import.meta.dirname
const root = join(here, '../..')

type Mode = 'memory' | 'redis' | 'redis-cluster'

interface Row {
  mode: Mode
  processes: number
  offers: boolean
  announcesPerSec: number
  perProcessPerSec: number
  redisCommandsPerAnnounce: number
  trackerCpuMsPer1000: number
  redisCpuMsPer1000: number
  trackerHeapPerPeerBytes: number
  redisMemoryPerMembershipBytes: number
  redisKeyBytesPerMembership: number
  /** Per `started` announce (one membership): Redis commands (scripts' inner ones included), tracker and Redis CPU-ms. */
  join: { commands: number; trackerCpuMs: number; redisCpuMs: number }
  failures: number
}

/** One closed loop's figures; a row has the medians of ROUNDS of them. */
type Loop = Pick<
  Row,
  'announcesPerSec' | 'redisCommandsPerAnnounce' | 'trackerCpuMsPer1000' | 'redisCpuMsPer1000' | 'failures'
>

/** `BENCH_CPU_PROF=DIR`: tracker processes write V8 CPU profiles there. */
const PROFILE_DIR = process.env.BENCH_CPU_PROF

function child(file: string, args: string[]): ChildProcess {
  const prof = PROFILE_DIR !== undefined && file === 'server.ts' ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []
  return spawn(process.execPath, ['--expose-gc', ...prof, '--import', 'tsx', join(here, file), ...args], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
}

type Done = Extract<LoadReply, { type: 'done' }>
const load = async (loader: ChildProcess, cmd: LoadCommand): Promise<Done> =>
  await request<Done>(loader, cmd, 'done', STEP_TIMEOUT_MS)
const cpuUs = async (servers: ChildProcess[]): Promise<number> =>
  (
    await Promise.all(
      servers.map(async s => await request<ServerReport>(s, { type: 'cpu' }, 'measure', STEP_TIMEOUT_MS))
    )
  ).reduce((sum, r) => sum + r.cpuUs, 0)
const heap = async (servers: ChildProcess[]): Promise<number> =>
  (
    await Promise.all(
      servers.map(async s => await request<ServerReport>(s, { type: 'measure' }, 'measure', STEP_TIMEOUT_MS))
    )
  ).reduce((sum, r) => sum + r.heapUsed, 0)

/** Sums of one INFO field over every Redis node. */
async function redisSum(nodes: Redis[], section: string, read: (info: string) => number): Promise<number> {
  return (await Promise.all(nodes.map(async n => read(await n.info(section))))).reduce((a, b) => a + b, 0)
}
const field = (name: string) => (info: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0)
const commandCalls = (info: string): number => {
  let sum = 0
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    if (m[1] !== 'info' && m[1] !== 'config|resetstat') sum += Number(m[2])
  return sum
}
const redisCpuS = async (nodes: Redis[]): Promise<number> =>
  (await redisSum(nodes, 'cpu', field('used_cpu_user'))) + (await redisSum(nodes, 'cpu', field('used_cpu_sys')))

/** MEMORY USAGE summed over every swarm key of every node: the data alone, without Redis's own buffers. */
async function swarmKeyBytes(nodes: Redis[]): Promise<number> {
  let sum = 0
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', 'p2pcdn:sw:*', 'COUNT', 1000)
      cursor = next
      for (const key of keys) sum += Number((await node.memory('USAGE', key)) ?? 0)
    } while (cursor !== '0')
  }
  return sum
}

async function runConfig(mode: Mode, processes: number, target: string, nodes: Redis[]): Promise<Row[]> {
  process.stderr.write(`bench:cluster: ${mode}, ${processes} process(es)\n`)
  const servers = Array.from({ length: processes }, () => child('server.ts', [target]))
  const loader = child('../tracker/load.ts', [])
  try {
    const ports = await Promise.all(
      servers.map(async s => (await request<{ port: number }>(s, undefined, 'ready', STEP_TIMEOUT_MS)).port)
    )
    const urls = ports.map(p => `ws://127.0.0.1:${p}`)
    const heapBefore = await heap(servers)
    const redisBefore = await redisSum(nodes, 'memory', field('used_memory'))
    await load(loader, { type: 'connect', url: urls[0]!, urls, peers: PEERS })
    await Promise.all(nodes.map(async n => await n.config('RESETSTAT')))
    const joinCpuBefore = await cpuUs(servers)
    const joinRedisCpuBefore = await redisCpuS(nodes)
    const joined = await load(loader, { type: 'join', swarms: 'sixteen' })
    const join = {
      commands: (await redisSum(nodes, 'commandstats', commandCalls)) / MEMBERSHIPS,
      trackerCpuMs: ((await cpuUs(servers)) - joinCpuBefore) / 1000 / MEMBERSHIPS,
      redisCpuMs: (((await redisCpuS(nodes)) - joinRedisCpuBefore) * 1000) / MEMBERSHIPS
    }
    if (joined.failures > 0) throw new Error(`${mode}: ${joined.failures} joins failed`)
    const heapPer = ((await heap(servers)) - heapBefore) / PEERS
    const redisPer = ((await redisSum(nodes, 'memory', field('used_memory'))) - redisBefore) / MEMBERSHIPS
    const keyPer = (await swarmKeyBytes(nodes)) / MEMBERSHIPS
    const loops = new Map<boolean, Loop[]>([
      [false, []],
      [true, []]
    ])
    // Rounds alternate without and with offers, so both see the same drift of the machine.
    for (let round = 0; round < ROUNDS; round++) {
      for (const offers of [false, true]) {
        await Promise.all(nodes.map(async n => await n.config('RESETSTAT')))
        const cpuBefore = await cpuUs(servers)
        const redisCpuBefore = await redisCpuS(nodes)
        const result = await load(loader, { type: 'closed', swarms: 'sixteen', offers, durationMs: LOOP_MS })
        const cpuS = ((await cpuUs(servers)) - cpuBefore) / 1e6
        const redisCpu = (await redisCpuS(nodes)) - redisCpuBefore
        const calls = await redisSum(nodes, 'commandstats', commandCalls)
        loops.get(offers)!.push({
          announcesPerSec: result.replies / (result.elapsedMs / 1000),
          redisCommandsPerAnnounce: calls / result.replies,
          trackerCpuMsPer1000: (cpuS * 1e6) / result.replies,
          redisCpuMsPer1000: (redisCpu * 1e6) / result.replies,
          failures: result.failures
        })
      }
    }
    const rows: Row[] = [...loops].map(([offers, runs]) => {
      const mid = (pick: (l: Loop) => number): number => median(runs.map(pick))
      const perSec = mid(l => l.announcesPerSec)
      return {
        mode,
        processes,
        offers,
        announcesPerSec: perSec,
        perProcessPerSec: perSec / processes,
        redisCommandsPerAnnounce: mid(l => l.redisCommandsPerAnnounce),
        trackerCpuMsPer1000: mid(l => l.trackerCpuMsPer1000),
        redisCpuMsPer1000: mid(l => l.redisCpuMsPer1000),
        trackerHeapPerPeerBytes: heapPer,
        redisMemoryPerMembershipBytes: redisPer,
        redisKeyBytesPerMembership: keyPer,
        join,
        failures: runs.reduce((n, l) => n + l.failures, 0)
      }
    })
    await load(loader, { type: 'close' })
    return rows
  } finally {
    loader.kill('SIGKILL')
    await Promise.all(
      servers.map(
        async s =>
          await new Promise<void>(resolve => {
            if (s.exitCode !== null) {
              resolve()
              return
            }
            const timer = setTimeout(() => s.kill('SIGKILL'), 5000)
            s.once('exit', () => {
              clearTimeout(timer)
              resolve()
            })
            s.send({ type: 'stop' })
          })
      )
    )
  }
}

async function main(): Promise<void> {
  const started = Date.now()
  const loadBefore = loadavg()[0]!
  const rows: Row[] = []
  // In memory, each process is its own tracker (peers meet only their own process's): the
  // baseline for the same load per process, which batches less per event-loop turn as it falls.
  for (const n of PROCESS_COUNTS) rows.push(...(await runConfig('memory', n, 'none', [])))
  for (const mode of (['redis', 'redis-cluster'] as const).filter(m => MODES.includes(m))) {
    const redis = mode === 'redis' ? await startRedis() : await startRedisCluster(3)
    const urls = mode === 'redis' ? [redis.url] : redis.url.split(',')
    const nodes = urls.map(url => new Redis(url))
    try {
      for (const n of PROCESS_COUNTS) rows.push(...(await runConfig(mode, n, redis.url, nodes)))
    } finally {
      for (const node of nodes) node.disconnect()
      await redis.stop()
    }
  }
  const memoryCpu = (offers: boolean, processes: number): number =>
    rows.find(r => r.mode === 'memory' && r.offers === offers && r.processes === processes)!.trackerCpuMsPer1000
  const machine = { ...machineInfo(), loadAverage: { before: round(loadBefore, 2), after: round(loadavg()[0]!, 2) } }
  const table = markdownTable(
    [
      'mode',
      'tracker processes',
      'offers',
      'announces/s total',
      'per process',
      'Redis commands / announce',
      'tracker CPU-ms / 1,000 announces',
      'x in-memory (same processes)',
      'Redis CPU-ms / 1,000 announces',
      'tracker heap B / peer',
      'Redis keys B / membership'
    ],
    rows.map(r => [
      r.mode,
      r.processes,
      r.offers ? '5 each' : 'none',
      Math.round(r.announcesPerSec).toLocaleString('en-US'),
      Math.round(r.perProcessPerSec).toLocaleString('en-US'),
      r.mode === 'memory' ? '0' : r.redisCommandsPerAnnounce.toFixed(3),
      r.trackerCpuMsPer1000.toFixed(1),
      (r.trackerCpuMsPer1000 / memoryCpu(r.offers, r.processes)).toFixed(2),
      r.mode === 'memory' ? '-' : r.redisCpuMsPer1000.toFixed(1),
      Math.round(r.trackerHeapPerPeerBytes),
      r.mode === 'memory' ? '-' : Math.round(r.redisKeyBytesPerMembership)
    ])
  )
  const joins = markdownTable(
    [
      'mode',
      'tracker processes',
      'Redis commands / join',
      'tracker CPU-ms / 1,000 joins',
      'Redis CPU-ms / 1,000 joins'
    ],
    rows
      .filter(r => !r.offers && r.mode !== 'memory')
      .map(r => [
        r.mode,
        r.processes,
        r.join.commands.toFixed(2),
        (r.join.trackerCpuMs * 1000).toFixed(1),
        (r.join.redisCpuMs * 1000).toFixed(1)
      ])
  )
  const text = [
    `bench:cluster: ${PEERS} peers in 2 of 32 swarms each (${MEMBERSHIPS} memberships), medians of ${ROUNDS} closed loops of re-announces of ${LOOP_MS / 1000} s each (without and with offers in turn); ${machine.cores} cores (${machine.cpu}) shared by the trackers, Redis and the load generator; load average ${machine.loadAverage.before} before / ${machine.loadAverage.after} after; ${Math.round((Date.now() - started) / 1000)} s.`,
    '',
    table,
    '',
    'Joins (`started`, before the loops; Redis commands include those run inside the join script):',
    '',
    joins
  ].join('\n')
  await writeResults('cluster', text, {
    bench: 'cluster',
    machine,
    peers: PEERS,
    loopMs: LOOP_MS,
    rounds: ROUNDS,
    rows: rows.map(r =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? round(v, 3) : v]))
    )
  })
}

function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exit(1)
})
