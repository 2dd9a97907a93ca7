/**
 * `npm run bench:edge`: cache-HIT throughput of our edge against nginx `proxy_cache` in
 * front of the same origin, for a 1 KiB and a 1 MiB object, with 1 and 2 worker
 * processes each (`--workers N` and `worker_processes N`). Runs alternate edge, nginx,
 * edge, nginx so both see the same machine noise. The load generator is wrk (C), in its
 * own process; on a 2-core machine it has a core to itself at 1 worker and competes with
 * the servers at 2. Reports req/s, p99 latency and requests per server CPU-second
 * (utime+stime of all the server's processes, from /proc), prints a Markdown table and
 * one JSON line, and writes both to bench/results/edge.{json,md}.
 *
 * Flags: --duration S (5), --connections N (64), --threads N (wrk threads, 1),
 * --rounds N (3), --workers LIST (1,2).
 */
import type { ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { machine as machineInfo, median, writeResults } from '../common/report.js'
import { findOrInstallNginx, nginxVersion, startNginx } from './nginx.js'
import { cpuOfAll, familyOf, startJsonChild, stopChild } from './proc.js'
import { createWrk, findOrInstallWrk } from './wrk.js'
import type { Wrk } from './wrk.js'

const here = dirname(fileURLToPath(import.meta.url))
const WARMUP_S = 1
const OBJECTS = [
  { name: '1 KiB', path: '/1k', bytes: 1024 },
  { name: '1 MiB', path: '/1m', bytes: 1024 * 1024 }
] as const
/** Goals from issues 4 and 15, as ratios edge / nginx in the same run. */
const GOALS = { '1 KiB': 0.8, '1 MiB': 1.0, p99: 2.5 }

interface Run {
  server: 'edge' | 'nginx'
  workers: number
  object: string
  reqPerSec: number
  p99Ms: number
  bytesPerSec: number
  cpuS: number
  reqPerCpuS: number
  errors: number
  non2xx: number
  /** 1-minute load average when the run ended: how busy the machine was besides. */
  load1: number
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
    threads: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    workers: { type: 'string', default: '1,2' }
  }
})
const durationS = Number(values.duration)
const connections = Number(values.connections)
const threads = Number(values.threads)
const rounds = Number(values.rounds)
const workerCounts = values.workers.split(',').map(Number)
for (const [name, n] of Object.entries({ durationS, connections, threads, rounds, workers: Math.min(...workerCounts) }))
  if (!Number.isInteger(n) || n < 1) throw new Error(`bench:edge: ${name} must be a positive integer, got ${n}`)

async function expectHit(url: string): Promise<void> {
  // Each worker fills its own memory: enough requests, on fresh connections, for all to have it.
  for (let i = 0; i < 8; i++) await (await fetch(url, { headers: { connection: 'close' } })).arrayBuffer()
  const res = await fetch(url)
  await res.arrayBuffer()
  const status = res.headers.get('x-cache')
  if (status !== 'HIT')
    throw new Error(`${url}: expected X-Cache HIT after warm-up, got ${res.status} ${JSON.stringify([...res.headers])}`)
}

async function measure(
  wrk: Wrk,
  server: 'edge' | 'nginx',
  workers: number,
  base: string,
  pids: number[],
  object: (typeof OBJECTS)[number]
): Promise<Run> {
  const url = base + object.path
  await wrk.run(url, WARMUP_S)
  const before = cpuOfAll(pids)
  const r = await wrk.run(url, durationS)
  const cpuS = cpuOfAll(pids) - before
  const seconds = r.durationUs / 1e6
  return {
    server,
    workers,
    object: object.name,
    reqPerSec: r.requests / seconds,
    p99Ms: r.p99Us / 1000,
    bytesPerSec: r.bytes / seconds,
    cpuS,
    reqPerCpuS: cpuS > 0 ? r.requests / cpuS : 0,
    errors: r.errors,
    non2xx: r.non2xx,
    load1: loadavg()[0] ?? 0
  }
}

async function main(): Promise<void> {
  const nginxBin = findOrInstallNginx()
  const wrkBin = findOrInstallWrk()
  const tmp = await mkdtemp(join(tmpdir(), 'p2pcdn-bench-edge-'))
  // nginx's workers drop root: they must reach each nginx dir inside this one.
  await chmod(tmp, 0o755)
  const tsx = ['--import', 'tsx']
  const loadBefore = loadavg()
  const origin = await startJsonChild(process.execPath, [...tsx, join(here, 'origin-server.ts')])
  const children: ChildProcess[] = [origin.child]
  try {
    const wrk = await createWrk(wrkBin, tmp, threads, connections)
    const originUrl = `http://127.0.0.1:${String(origin.first.port)}`
    const runs: Run[] = []
    for (const workers of workerCounts) {
      const edge = await startJsonChild(process.execPath, [
        ...tsx,
        join(here, 'edge-server.ts'),
        originUrl,
        String(workers)
      ])
      children.push(edge.child)
      const nginxDir = await mkdtemp(join(tmp, `nginx-${workers}-`))
      const nginx = await startNginx({ bin: nginxBin, dir: nginxDir, originPort: Number(origin.first.port), workers })
      children.push(nginx.child)
      const servers = {
        edge: { base: `http://127.0.0.1:${String(edge.first.port)}`, pids: familyOf(edge.child.pid ?? 0) },
        nginx: { base: `http://127.0.0.1:${nginx.port}`, pids: familyOf(nginx.child.pid ?? 0) }
      }
      for (const s of Object.values(servers)) for (const o of OBJECTS) await expectHit(s.base + o.path)
      for (const object of OBJECTS) {
        for (let round = 0; round < rounds; round++) {
          for (const name of ['edge', 'nginx'] as const) {
            const run = await measure(wrk, name, workers, servers[name].base, servers[name].pids, object)
            runs.push(run)
            process.stderr.write(
              `${workers} worker(s) ${object.name} ${name} round ${round + 1}: ${Math.round(run.reqPerSec)} req/s, p99 ${run.p99Ms} ms, ${Math.round(run.reqPerCpuS)} req/CPU-s, load ${run.load1.toFixed(2)}\n`
            )
          }
        }
      }
      await stopChild(edge.child)
      await stopChild(nginx.child)
    }
    await report(runs, nginxVersion(nginxBin), { before: loadBefore, after: loadavg() })
  } finally {
    for (const c of children.reverse()) await stopChild(c)
    await rm(tmp, { recursive: true, force: true })
  }
}

interface Side {
  reqPerSec: number
  p99Ms: number
  reqPerCpuS: number
  bytesPerSec: number
}

async function report(runs: Run[], nginx: string, load: { before: number[]; after: number[] }): Promise<void> {
  const rows = []
  for (const workers of workerCounts) {
    for (const object of OBJECTS) {
      const of = (server: string): Run[] =>
        runs.filter(r => r.workers === workers && r.object === object.name && r.server === server)
      const side = (server: string): Side => {
        const med = (k: keyof Side): number => median(of(server).map(r => r[k]))
        return {
          reqPerSec: med('reqPerSec'),
          p99Ms: med('p99Ms'),
          reqPerCpuS: med('reqPerCpuS'),
          bytesPerSec: med('bytesPerSec')
        }
      }
      const e = side('edge')
      const n = side('nginx')
      const throughputRatio = n.reqPerSec > 0 ? e.reqPerSec / n.reqPerSec : 0
      // Each round's edge run and nginx run are back to back: their ratio, then the median
      // over rounds, is steadier than the ratio of medians when the machine's load drifts.
      const edgeRuns = of('edge')
      const nginxRuns = of('nginx')
      const pairedRatio = median(edgeRuns.map((r, i) => r.reqPerSec / (nginxRuns[i]?.reqPerSec ?? NaN)))
      const p99Ratio = e.p99Ms / Math.max(0.001, n.p99Ms)
      const goal = GOALS[object.name]
      rows.push({
        workers,
        object: object.name,
        edge: e,
        nginx: n,
        throughputRatio,
        pairedRatio,
        cpuRatio: n.reqPerCpuS > 0 ? e.reqPerCpuS / n.reqPerCpuS : 0,
        p99Ratio,
        throughputGoal: goal,
        throughputMet: throughputRatio >= goal,
        pairedMet: pairedRatio >= goal,
        p99Met: p99Ratio <= GOALS.p99
      })
    }
  }
  const round2 = (xs: number[]): string => xs.map(x => x.toFixed(2)).join(' ')
  const machine = {
    ...machineInfo(),
    nginx,
    loadGenerator: `wrk -t${threads} -c${connections}`,
    connections,
    threads,
    durationS,
    rounds,
    loadBefore: load.before,
    loadAfter: load.after
  }
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US')
  const mb = (x: number): string => (x / 1e6).toFixed(0)
  const lines = [
    `## Edge vs nginx proxy_cache, cache HIT (wrk, ${threads} thread, ${connections} connections, ${durationS} s, median of ${rounds})`,
    '',
    `${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${nginx}. ` +
      `Workers: the edge's \`--workers N\` and nginx's \`worker_processes N\`; at 2 workers wrk shares the 2 cores with the servers. ` +
      `Load average (1, 5, 15 min) before: ${round2(load.before)}, after: ${round2(load.after)}.`,
    '',
    'Ratios: "of medians" divides the median req/s; "per round" is the median of each round\'s edge/nginx, the two runs back to back.',
    '',
    '| workers | object | server | req/s | MB/s | p99 ms | req per CPU-s | edge/nginx req/s of medians (goal) | per round | edge/nginx req per CPU-s | edge/nginx p99 (goal ≤ 2.5) |',
    '| ---: | --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | --- |'
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.workers} | ${r.object} | edge | ${fmt(r.edge.reqPerSec)} | ${mb(r.edge.bytesPerSec)} | ${r.edge.p99Ms.toFixed(2)} | ${fmt(r.edge.reqPerCpuS)} | ${r.throughputRatio.toFixed(2)}x (≥ ${r.throughputGoal}) ${r.throughputMet ? 'met' : 'NOT met'} | ${r.pairedRatio.toFixed(2)}x ${r.pairedMet ? 'met' : 'NOT met'} | ${r.cpuRatio.toFixed(2)}x | ${r.p99Ratio.toFixed(2)}x ${r.p99Met ? 'met' : 'NOT met'} |`
    )
    lines.push(
      `| ${r.workers} | ${r.object} | nginx | ${fmt(r.nginx.reqPerSec)} | ${mb(r.nginx.bytesPerSec)} | ${r.nginx.p99Ms.toFixed(2)} | ${fmt(r.nginx.reqPerCpuS)} | | | | |`
    )
  }
  const json = { bench: 'edge', at: new Date().toISOString(), machine, results: rows, runs }
  await writeResults('edge', lines.join('\n'), json)
}

await main()
