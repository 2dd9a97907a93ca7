/**
 * `p2pcdn edge --workers 2`, as an operator runs it (a child process): concurrent misses
 * of one object on different workers cost the origin one request, what one worker stored
 * the other serves, a purge reaches both, and a worker SIGKILLed while filling leaves a
 * store that serves only whole, right bodies, before and after a restart.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import http from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { startOrigin } from '../helpers/origin.js'
import type { TestOrigin } from '../helpers/origin.js'

const HOUR = { 'Cache-Control': 'public, max-age=3600' }
const PURGE_TOKEN = 'purge-secret-for-tests'
let origin: TestOrigin
let tmp: string
const running: ChildProcess[] = []

beforeAll(async () => {
  origin = await startOrigin({})
  tmp = await mkdtemp(join(tmpdir(), 'p2pcdn-edge-workers-'))
})

afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await origin.close()
  await rm(tmp, { recursive: true, force: true })
})

interface Cluster {
  child: ChildProcess
  url: string
  pids: number[]
  /** Resolves at the next log line with this event. */
  next: (event: string) => Promise<Record<string, unknown>>
  exited: Promise<number | null>
  /** Every stdout line so far, parsed: a line that is not whole JSON fails the test. */
  lines: Array<Record<string, unknown>>
}

async function startCluster(args: string[]): Promise<Cluster> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'edge-crash-child.ts'),
      '--origin',
      origin.url,
      '--port',
      '0',
      '--access-log',
      'off',
      ...(args.includes('--workers') ? args : ['--workers', '2', ...args])
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] }
  )
  running.push(child)
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const waiters: Array<{ event: string; resolve: (msg: Record<string, unknown>) => void }> = []
  const lines: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', line => {
    const msg = JSON.parse(line) as Record<string, unknown>
    lines.push(msg)
    for (const w of [...waiters])
      if (w.event === msg.event) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(msg)
      }
  })
  const next = async (event: string): Promise<Record<string, unknown>> =>
    await new Promise(resolve => waiters.push({ event, resolve }))
  const up = await Promise.race([
    next('workers-listening'),
    exited.then(code => {
      throw new Error(`edge exited with ${String(code)} before listening`)
    })
  ])
  return { child, url: String(up.url), pids: String(up.pids).split(',').map(Number), next, exited, lines }
}

/** A GET on a connection of its own, so the cluster hands each to the next worker in turn. */
async function getFresh(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {}
): Promise<{ status: number; cache: string | undefined; body: Buffer }> {
  return await new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, method: init.method ?? 'GET', headers: init.headers }, res => {
      const parts: Buffer[] = []
      res.on('data', (c: Buffer) => parts.push(c))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          cache: res.headers['x-cache'] as string | undefined,
          body: Buffer.concat(parts)
        })
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

async function stopCluster(c: Cluster): Promise<number | null> {
  c.child.kill('SIGTERM')
  return await c.exited
}

const buf = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength)

async function exitOf(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'edge-crash-child.ts'), ...args],
    {
      stdio: ['ignore', 'ignore', 'pipe']
    }
  )
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString()
  })
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, stderr }
}

describe('--workers', () => {
  it('exits 2 naming the flag or the config key for 0, a word, or more than 256', async () => {
    for (const bad of ['0', 'many', '300']) {
      const r = await exitOf(['--origin', origin.url, '--workers', bad])
      expect(r.code, bad).toBe(2)
      expect(r.stderr).toContain(
        `Invalid option "--workers": expected "auto" or an integer from 1 to 256, got "${bad}"`
      )
    }
    const file = join(tmp, 'workers.json')
    await writeFile(file, JSON.stringify({ origin: origin.url, workers: 2.5 }))
    const r = await exitOf(['--config', file])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`config ${file}: "workers": expected "auto" or an integer from 1 to 256, got 2.5`)
  })

  it('auto runs one worker per core', async () => {
    const c = await startCluster(['--workers', 'auto'])
    try {
      expect(c.pids).toHaveLength(availableParallelism())
      expect(await stopCluster(c)).toBe(0)
    } finally {
      c.child.kill('SIGKILL')
    }
  })
})

describe('edge --workers 2', () => {
  it('registers with the tracker once for the whole cluster, and reports the load of both workers', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await once(wss, 'listening')
    const messages: Array<Record<string, unknown>> = []
    let trackerSockets = 0
    wss.on('connection', ws => {
      trackerSockets++
      ws.on('message', data => {
        const msg = JSON.parse(String(data)) as Record<string, unknown>
        messages.push(msg)
        if (msg.action === 'p2pcdn:edge-register')
          ws.send(JSON.stringify({ action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 100 }))
      })
    })
    const { port } = wss.address() as AddressInfo
    const c = await startCluster(['--tracker', `ws://127.0.0.1:${port}`, '--edge-token', 'T0ken'])
    const idle: Socket[] = []
    try {
      // Six open connections, dealt out to both workers: the report must count all six.
      for (let i = 0; i < 6; i++) {
        const s = connect(new URL(c.url).port === '' ? 80 : Number(new URL(c.url).port), '127.0.0.1')
        await once(s, 'connect')
        idle.push(s)
      }
      const deadline = Date.now() + 10_000
      const reported = (): boolean => messages.some(m => m.action === 'p2pcdn:edge-load' && m.connections === 6)
      while (!reported() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
      expect(reported()).toBe(true)
      const registers = messages.filter(m => m.action === 'p2pcdn:edge-register')
      expect(registers).toEqual([
        { action: 'p2pcdn:edge-register', v: 1, token: 'T0ken', url: c.url, region: 'default', capacity: 0 }
      ])
      expect(trackerSockets).toBe(1)
      for (const s of idle) s.destroy()
      expect(await stopCluster(c)).toBe(0)
    } finally {
      for (const s of idle) s.destroy()
      c.child.kill('SIGKILL')
      for (const ws of wss.clients) ws.terminate()
      await new Promise(resolve => wss.close(resolve))
    }
  })

  it('concurrent misses on both workers cost the origin one request, and each worker serves what the other stored', async () => {
    const body = buf(deterministicBytes(300_000, 'coalesce'))
    origin.files['/together.bin'] = { body, headers: HOUR, delayMs: 300 }
    const c = await startCluster(['--cache-dir', join(tmp, 'coalesce')])
    try {
      // Twelve connections at once: the primary deals them out to both workers in turn.
      const first = await Promise.all(Array.from({ length: 12 }, async () => await getFresh(`${c.url}/together.bin`)))
      for (const r of first) {
        expect(r.status).toBe(200)
        expect(r.body.equals(body)).toBe(true)
      }
      expect(origin.requests.get('/together.bin')).toBe(1)
      const later = await Promise.all(Array.from({ length: 8 }, async () => await getFresh(`${c.url}/together.bin`)))
      for (const r of later) expect(r.body.equals(body)).toBe(true)
      expect(origin.requests.get('/together.bin')).toBe(1)
      expect(await stopCluster(c)).toBe(0)
    } finally {
      c.child.kill('SIGKILL')
    }
  })

  it('with the access log on, both workers write whole lines to the one stdout', async () => {
    origin.files['/logged.txt'] = { body: 'x', headers: HOUR }
    const c = await startCluster(['--access-log', 'on'])
    try {
      const path = `/logged.txt?${'q'.repeat(300)}`
      for (let round = 0; round < 10; round++)
        await Promise.all(Array.from({ length: 40 }, async () => await getFresh(c.url + path)))
      expect(await stopCluster(c)).toBe(0)
      // Every line parsed (startCluster's reader throws on a torn one); none went missing.
      expect(c.lines.filter(m => m.event === 'access' && m.url === path)).toHaveLength(400)
    } finally {
      c.child.kill('SIGKILL')
    }
  })

  it('a purge on one worker reaches the other: nobody serves the old copy afterwards', async () => {
    origin.files['/purged.txt'] = { body: 'version 1', headers: HOUR }
    const c = await startCluster(['--purge-token', PURGE_TOKEN])
    try {
      // Both workers hold it in memory.
      for (const r of await Promise.all(Array.from({ length: 8 }, async () => await getFresh(`${c.url}/purged.txt`))))
        expect(r.body.toString()).toBe('version 1')
      origin.files['/purged.txt'] = { body: 'version 2', headers: HOUR }
      const purge = await getFresh(`${c.url}/_p2pcdn/purge`, {
        method: 'POST',
        headers: { authorization: `Bearer ${PURGE_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url: '/purged.txt' })
      })
      expect(purge.status).toBe(200)
      // The other worker hears of it over IPC; one round trip through the primary.
      await new Promise(resolve => setTimeout(resolve, 200))
      for (const r of await Promise.all(Array.from({ length: 8 }, async () => await getFresh(`${c.url}/purged.txt`))))
        expect(r.body.toString()).toBe('version 2')
      expect(await stopCluster(c)).toBe(0)
    } finally {
      c.child.kill('SIGKILL')
    }
  })

  it('a worker SIGKILLed while both fill the same keys leaves a store that serves only whole, right bodies', async () => {
    const OBJECTS = 40
    const bytesOf = (i: number, v: string): Buffer => buf(deterministicBytes(150_000 + i * 1000, `workers-${v}-${i}`))
    const cacheDir = join(tmp, 'killed')
    for (let i = 0; i < OBJECTS; i++)
      origin.files[`/k/${i}`] = { body: bytesOf(i, 'v1'), headers: HOUR, delayMs: i % 2 === 0 ? 0 : 1500 }
    const c = await startCluster(['--cache-dir', cacheDir])
    const served: Array<{ i: number; status: number; body: Buffer }> = []
    const check = (): void => {
      for (const r of served) {
        if (r.status !== 200) continue
        const right = r.body.equals(bytesOf(r.i, 'v1')) || r.body.equals(bytesOf(r.i, 'v2'))
        expect(right, `object ${r.i}: ${r.body.length} bytes, neither version`).toBe(true)
      }
    }
    try {
      let done = 0
      let halfDone!: () => void
      const half = new Promise<void>(resolve => {
        halfDone = resolve
      })
      // Two requests per object on connections of their own: both workers fill and read the same keys.
      const fills = Array.from({ length: OBJECTS * 2 }, async (_, n) => {
        const i = n % OBJECTS
        try {
          const r = await getFresh(`${c.url}/k/${i}`)
          served.push({ i, ...r })
        } catch {
          // Cut by the kill: nothing was served whole.
        }
        if (++done === OBJECTS) halfDone()
      })
      await half
      const victim = c.pids[0] ?? 0
      const survivor = c.pids[1] ?? 0
      // A half write as the victim would leave it (a real one is hard to catch in the act),
      // and one of the survivor's, still going.
      const tempOf = (pid: number): string =>
        `${'0'.repeat(64)}.entry.tmp-${pid.toString(16).padStart(8, '0')}00112233aabb`
      await writeFile(join(cacheDir, tempOf(victim)), 'half a write')
      await writeFile(join(cacheDir, tempOf(survivor)), 'a write in progress')
      const restarted = c.next('worker-restarted')
      process.kill(victim, 'SIGKILL')
      await Promise.all(fills)
      await restarted
      // The dead worker's half-written files are gone once the primary has seen it exit; a live one's stay.
      const names = await readdir(cacheDir)
      expect(names).not.toContain(tempOf(victim))
      expect(names).toContain(tempOf(survivor))
      await rm(join(cacheDir, tempOf(survivor)))

      for (let i = 0; i < OBJECTS; i++) origin.files[`/k/${i}`] = { body: bytesOf(i, 'v2'), headers: HOUR }
      for (let i = 0; i < OBJECTS; i++) served.push({ i, ...(await getFresh(`${c.url}/k/${i}`)) })
      check()
      expect(await stopCluster(c)).toBe(0)

      // After a restart of the whole edge: the same holds for what the disk kept.
      const again = await startCluster(['--cache-dir', cacheDir])
      try {
        expect((await readdir(cacheDir)).some(n => n.includes('.tmp-'))).toBe(false)
        const before = served.length
        for (let i = 0; i < OBJECTS; i++) served.push({ i, ...(await getFresh(`${again.url}/k/${i}`)) })
        expect(served.slice(before).every(r => r.status === 200)).toBe(true)
        check()
        expect(await stopCluster(again)).toBe(0)
      } finally {
        again.child.kill('SIGKILL')
      }
    } finally {
      c.child.kill('SIGKILL')
    }
  }, 120_000)
})
