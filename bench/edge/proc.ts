/** Child processes for the benchmark: start one that prints a JSON line, and read CPU time from /proc. */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { createInterface } from 'node:readline'

/** Linux reports CPU times in clock ticks; USER_HZ is 100 on every mainstream build. */
const TICKS_PER_SECOND = 100

export interface Started {
  child: ChildProcess
  first: Record<string, unknown>
}

/** Spawn and wait (bounded) for its first stdout line, parsed as JSON. */
export async function startJsonChild(command: string, args: string[], timeoutMs = 30_000): Promise<Started> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })
  const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} ${args.join(' ')}: no output in ${timeoutMs} ms`)),
      timeoutMs
    )
    lines.once('line', line => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(line) as Record<string, unknown>)
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)))
      }
    })
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`${command} exited with ${String(code)} before starting`))
    })
  })
  return { child, first }
}

/** utime + stime of one process (all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name, which is in parentheses and may contain spaces.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND
}

/** A process and its direct children (nginx's master and workers). */
export function familyOf(pid: number): number[] {
  const out = [pid]
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) out.push(Number(name))
    } catch {}
  }
  return out
}

export function cpuOfAll(pids: number[]): number {
  let sum = 0
  for (const pid of pids) {
    try {
      sum += cpuSeconds(pid)
    } catch {}
  }
  return sum
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}
