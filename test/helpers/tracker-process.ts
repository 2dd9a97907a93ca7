/** A `p2pcdn tracker` child process on port 0, for the cluster tests. */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'

const CLI = join(import.meta.dirname, '../../cli/p2pcdn.ts')

export interface TrackerProcess {
  proc: ChildProcess
  url: string
  httpUrl: string
  /** What it wrote to stderr, then the last 100 kB of its stdout (its log). */
  log: () => string
}

/** Start `p2pcdn tracker --port 0 ...args`; resolves with its url once it listens. */
export async function startTrackerProcess(args: string[]): Promise<TrackerProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'tracker', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let err = ''
  let out = ''
  proc.stderr.on('data', chunk => {
    err += String(chunk)
  })
  // Drained, or a chatty tracker would block on a full pipe.
  proc.stdout.on('data', chunk => {
    out = (out + String(chunk)).slice(-100_000)
  })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tracker did not start: ${err}`)), 20_000)
    const check = (): void => {
      const match = err.match(/listening on (ws:\/\/127\.0\.0\.1:\d+)/)
      if (match === null) return
      clearTimeout(timer)
      proc.stderr.off('data', check)
      resolve(match[1]!)
    }
    proc.stderr.on('data', check)
    proc.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`tracker exited with ${String(code)}: ${err}`))
    })
  })
  return { proc, url, httpUrl: url.replace('ws:', 'http:'), log: () => `${err}${out}` }
}
