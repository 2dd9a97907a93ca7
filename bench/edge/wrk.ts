/**
 * wrk as the load generator: a C client on its own core, so the numbers are the
 * servers' and not the client's (autocannon, in Node, tops out near what the servers do).
 * Installs Debian's `wrk` with apt-get when it is missing, as nginx.ts does for nginx.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const WRK_PATHS = ['/usr/bin/wrk', '/usr/local/bin/wrk']

export function findOrInstallWrk(): string {
  const found = WRK_PATHS.find(p => existsSync(p))
  if (found !== undefined) return found
  process.stderr.write('wrk not found: installing it with apt-get\n')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env })
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'wrk'], { stdio: 'inherit', env })
  const installed = WRK_PATHS.find(p => existsSync(p))
  if (installed === undefined) throw new Error('wrk installed but no wrk binary found')
  return installed
}

/** wrk's Lua `done` hook: the summary as one JSON line (microseconds, bytes). */
const REPORT_LUA = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"durationUs":%d,"bytes":%d,"errors":%d,"non2xx":%d,"p50Us":%d,"p99Us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`

export interface WrkResult {
  requests: number
  durationUs: number
  bytes: number
  errors: number
  non2xx: number
  p50Us: number
  p99Us: number
}

export interface Wrk {
  run: (url: string, seconds: number) => Promise<WrkResult>
}

export async function createWrk(bin: string, dir: string, threads: number, connections: number): Promise<Wrk> {
  const script = join(dir, 'report.lua')
  await writeFile(script, REPORT_LUA)
  return {
    async run(url, seconds) {
      const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '-s', script, url]
      const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
      })
      child.stderr.on('data', (c: Buffer) => {
        err += c.toString()
      })
      const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
      const line = out.split('\n').find(l => l.startsWith('{'))
      if (code !== 0 || line === undefined) throw new Error(`wrk exited ${String(code)}: ${err}${out}`)
      return JSON.parse(line) as WrkResult
    }
  }
}
