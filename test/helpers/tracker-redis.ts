/** Throwaway `redis-server`s on free ports for the cluster tests: one, or a Redis Cluster. No persistence. */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { freePort } from './ports.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RedisProcess {
  url: string
  stop: () => Promise<void>
}

/** One redis-server with `args`, resolved once it accepts connections. */
async function startServer(port: number, args: string[]): Promise<ChildProcess> {
  const proc: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000)
    proc.stdout!.on('data', chunk => {
      out += String(chunk)
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer)
        resolve()
      }
    })
    proc.once('error', err => {
      clearTimeout(timer)
      reject(new Error(`cannot run redis-server (is it installed?): ${err.message}`))
    })
    proc.once('exit', () => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited: ${out}`))
    })
  })
  return proc
}

/**
 * redis-server on ports from `freePort`, with `args(port, spare)` (`spare`: a second free
 * port). Another process (tests run side by side) may bind a port between `freePort` and
 * redis-server, so a taken port is tried again with fresh ones.
 */
async function startOnFreePorts(
  args: (port: number, spare: number) => string[]
): Promise<{ port: number; proc: ChildProcess }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const spare = await freePort()
    try {
      return { port, proc: await startServer(port, args(port, spare)) }
    } catch (err) {
      if (attempt === 3 || !String(err).includes('Address already in use')) throw err
    }
  }
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise(resolve => proc.once('exit', resolve))
  proc.kill('SIGKILL')
  await exited
}

export async function startRedis(): Promise<RedisProcess> {
  const { port, proc } = await startOnFreePorts(() => [])
  return { url: `redis://127.0.0.1:${port}`, stop: async () => await kill(proc) }
}

export interface RedisClusterProcess extends RedisProcess {
  /** One `redis://127.0.0.1:<port>` per node, in slot order (node 0 holds slots 0-5460). */
  nodeUrls: string[]
}

/**
 * A Redis Cluster of `size` masters and no replicas on free ports, joined with
 * `redis-cli --cluster create`, resolved once every node reports `cluster_state:ok`.
 * `url` lists every node, comma-separated, as `--redis` takes it.
 */
export async function startRedisCluster(size = 3): Promise<RedisClusterProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pcdn-redis-cluster-'))
  const ports: number[] = []
  const procs: ChildProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map(kill))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < size; i++) {
      // The bus port defaults to port + 10000, which may be taken or out of range.
      const { port, proc } = await startOnFreePorts((port, busPort) => [
        '--cluster-enabled',
        'yes',
        '--cluster-port',
        String(busPort),
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir
      ])
      ports.push(port)
      procs.push(proc)
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map(p => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes'
    ])
    // The nodes agree on the slot map over the bus a moment after create returns.
    const deadline = Date.now() + 20_000
    for (const port of ports) {
      while (!/cluster_state:ok/.test(await run('redis-cli', ['-p', String(port), 'cluster', 'info']))) {
        if (Date.now() > deadline) throw new Error(`redis cluster node ${port} never reached cluster_state:ok`)
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    }
  } catch (err) {
    await stop()
    throw err
  }
  const nodeUrls = ports.map(p => `redis://127.0.0.1:${p}`)
  return { url: nodeUrls.join(','), nodeUrls, stop }
}

async function run(command: string, args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${command} ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolve(stdout)
    })
  })
}
