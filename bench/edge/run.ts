/**
 * `npm run bench:edge`: cache-HIT throughput of our edge against nginx `proxy_cache`
 * in front of the same origin, for a 1 KiB and a 1 MiB object. Runs alternate
 * edge, nginx, edge, nginx in one process so both see the same machine noise. The load
 * generator (autocannon) runs in its own process. Reports req/s, p99 latency and
 * requests per server CPU-second (utime+stime from /proc), prints a Markdown table and
 * one JSON line, and writes both to bench/results/edge.{json,md}.
 *
 * Flags: --duration S (10), --connections N (64), --rounds N (3), --nginx-workers N (1).
 * nginx gets one worker by default, matching the edge's one Node process.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { machine as machineInfo, median, writeResults } from '../common/report.js'
import { findOrInstallNginx, nginxVersion, startNginx } from './nginx.js'
import { cpuOfAll, familyOf, startJsonChild, stopChild } from './proc.js'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..')
const AUTOCANNON = join(root, 'node_modules', 'autocannon', 'autocannon.js')
const WARMUP_S = 2
const OBJECTS = [
  { name: '1 KiB', path: '/1k', bytes: 1024 },
  { name: '1 MiB', path: '/1m', bytes: 1024 * 1024 }
] as const
/** Goals from issue 4, as ratios edge / nginx in the same run. */
const GOALS = { '1 KiB': 0.8, '1 MiB': 1.0, p99: 2.5 }

interface Run {
  server: 'edge' | 'nginx'
  object: string
  reqPerSec: number
  p99Ms: number
  bytesPerSec: number
  cpuS: number
  reqPerCpuS: number
  errors: number
  non2xx: number
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '3' },
    'nginx-workers': { type: 'string', default: '1' }
  }
})
const durationS = Number(values.duration)
const connections = Number(values.connections)
const rounds = Number(values.rounds)
const nginxWorkers = Number(values['nginx-workers'])

interface AutocannonResult {
  requests: { average: number; total: number }
  latency: { p99: number }
  throughput: { average: number }
  errors: number
  non2xx: number
}

async function autocannon(url: string, seconds: number): Promise<AutocannonResult> {
  const child = spawn(process.execPath, [AUTOCANNON, '-c', String(connections), '-d', String(seconds), '-j', url], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
  })
  child.stderr.on('data', (c: Buffer) => {
    err += c.toString()
  })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  if (code !== 0) throw new Error(`autocannon exited ${String(code)}: ${err}`)
  return JSON.parse(out) as AutocannonResult
}

async function expectHit(url: string): Promise<void> {
  // Two requests: the first may fill, the second must be a hit on both servers.
  for (let i = 0; i < 2; i++) await (await fetch(url)).arrayBuffer()
  const res = await fetch(url)
  await res.arrayBuffer()
  const status = res.headers.get('x-cache')
  if (status !== 'HIT')
    throw new Error(`${url}: expected X-Cache HIT after warm-up, got ${res.status} ${JSON.stringify([...res.headers])}`)
}

async function measure(
  server: 'edge' | 'nginx',
  base: string,
  pids: () => number[],
  object: (typeof OBJECTS)[number]
): Promise<Run> {
  const url = base + object.path
  await autocannon(url, WARMUP_S)
  const before = cpuOfAll(pids())
  const r = await autocannon(url, durationS)
  const cpuS = cpuOfAll(pids()) - before
  return {
    server,
    object: object.name,
    reqPerSec: r.requests.average,
    p99Ms: r.latency.p99,
    bytesPerSec: r.throughput.average,
    cpuS,
    reqPerCpuS: cpuS > 0 ? r.requests.total / cpuS : 0,
    errors: r.errors,
    non2xx: r.non2xx
  }
}

async function main(): Promise<void> {
  const nginxBin = findOrInstallNginx()
  const tmp = await mkdtemp(join(tmpdir(), 'p2pcdn-bench-edge-'))
  const tsx = ['--import', 'tsx']
  const children: Array<{ child: import('node:child_process').ChildProcess }> = []
  try {
    const origin = await startJsonChild(process.execPath, [...tsx, join(here, 'origin-server.ts')])
    children.push(origin)
    const originUrl = `http://127.0.0.1:${String(origin.first.port)}`
    const edge = await startJsonChild(process.execPath, [...tsx, join(here, 'edge-server.ts'), originUrl])
    children.push(edge)
    const nginx = await startNginx({
      bin: nginxBin,
      dir: tmp,
      originPort: Number(origin.first.port),
      workers: nginxWorkers
    })
    children.push(nginx)
    const edgePid = edge.child.pid ?? 0
    const nginxPid = nginx.child.pid ?? 0
    const servers = {
      edge: { base: `http://127.0.0.1:${String(edge.first.port)}`, pids: () => [edgePid] },
      nginx: { base: `http://127.0.0.1:${nginx.port}`, pids: () => familyOf(nginxPid) }
    }
    for (const s of Object.values(servers)) for (const o of OBJECTS) await expectHit(s.base + o.path)

    const runs: Run[] = []
    for (const object of OBJECTS) {
      for (let round = 0; round < rounds; round++) {
        for (const name of ['edge', 'nginx'] as const) {
          const run = await measure(name, servers[name].base, servers[name].pids, object)
          runs.push(run)
          process.stderr.write(
            `${object.name} ${name} round ${round + 1}: ${Math.round(run.reqPerSec)} req/s, p99 ${run.p99Ms} ms, ${Math.round(run.reqPerCpuS)} req/CPU-s\n`
          )
        }
      }
    }
    await report(runs, nginxVersion(nginxBin))
  } finally {
    for (const c of children.reverse()) await stopChild(c.child)
    await rm(tmp, { recursive: true, force: true })
  }
}

async function report(runs: Run[], nginx: string): Promise<void> {
  const rows = []
  for (const object of OBJECTS) {
    const of = (server: string): Run[] => runs.filter(r => r.object === object.name && r.server === server)
    const med = (server: string, k: keyof Run): number => median(of(server).map(r => Number(r[k])))
    const e = {
      reqPerSec: med('edge', 'reqPerSec'),
      p99Ms: med('edge', 'p99Ms'),
      reqPerCpuS: med('edge', 'reqPerCpuS'),
      bytesPerSec: med('edge', 'bytesPerSec')
    }
    const n = {
      reqPerSec: med('nginx', 'reqPerSec'),
      p99Ms: med('nginx', 'p99Ms'),
      reqPerCpuS: med('nginx', 'reqPerCpuS'),
      bytesPerSec: med('nginx', 'bytesPerSec')
    }
    const throughputRatio = n.reqPerSec > 0 ? e.reqPerSec / n.reqPerSec : 0
    // autocannon reports latency in whole ms: a 0 ms p99 counts as 1 ms for the ratio.
    const p99Ratio = Math.max(1, e.p99Ms) / Math.max(1, n.p99Ms)
    const goal = GOALS[object.name]
    rows.push({
      object: object.name,
      edge: e,
      nginx: n,
      throughputRatio,
      p99Ratio,
      throughputGoal: goal,
      throughputMet: throughputRatio >= goal,
      p99Met: p99Ratio <= GOALS.p99
    })
  }
  const machine = { ...machineInfo(), nginx, nginxWorkers, connections, durationS, rounds }
  const fmt = (x: number): string => Math.round(x).toLocaleString('en-US')
  const mb = (x: number): string => (x / 1e6).toFixed(0)
  const lines = [
    `## Edge vs nginx proxy_cache, cache HIT (${connections} connections, ${durationS} s, median of ${rounds})`,
    '',
    `${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${nginx}, nginx workers: ${nginxWorkers}`,
    '',
    '| object | server | req/s | MB/s | p99 ms | req per CPU-s | edge/nginx req/s (goal) | edge/nginx p99 (goal ≤ 2.5) |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | --- |'
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.object} | edge | ${fmt(r.edge.reqPerSec)} | ${mb(r.edge.bytesPerSec)} | ${r.edge.p99Ms} | ${fmt(r.edge.reqPerCpuS)} | ${r.throughputRatio.toFixed(2)}x (≥ ${r.throughputGoal}) ${r.throughputMet ? 'met' : 'NOT met'} | ${r.p99Ratio.toFixed(2)}x ${r.p99Met ? 'met' : 'NOT met'} |`
    )
    lines.push(
      `| ${r.object} | nginx | ${fmt(r.nginx.reqPerSec)} | ${mb(r.nginx.bytesPerSec)} | ${r.nginx.p99Ms} | ${fmt(r.nginx.reqPerCpuS)} | | |`
    )
  }
  const json = { bench: 'edge', at: new Date().toISOString(), machine, results: rows, runs }
  await writeResults('edge', lines.join('\n'), json)
}

await main()
