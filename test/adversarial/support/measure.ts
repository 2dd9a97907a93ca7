/**
 * What every adversarial suite shares: the real RSS of a child process (VmRSS from
 * /proc), an attack run under a 50 ms RSS sampler that kills the victim process past
 * RSS_ABORT (so a before-run cannot exhaust the machine), bounded polling, and one JSON
 * line of figures per test (stderr, and the ADV_FIGURES file when set), so one run
 * yields the before/after table.
 */
import { appendFileSync, readFileSync } from 'node:fs'

export const MiB = 1024 * 1024

/** Past this the sampler kills the process under attack. */
export const RSS_ABORT = 1536 * MiB

/** The process under attack, as the sampler needs it. */
export interface Victim {
  rss: () => number
  alive: () => boolean
  kill: () => void
}

export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? 0 : Number(m[1]) * 1024
  } catch {
    return 0
  }
}

export interface Measured<T> {
  result: T | undefined
  error: unknown
  baseline: number
  peak: number
  /** RSS passed RSS_ABORT and the process was killed. */
  aborted: boolean
  ms: number
}

/**
 * Run `attack` while sampling the victim's RSS every 50 ms. Over RSS_ABORT the victim is
 * killed and `signal` aborts, so the attack can stop opening sockets. The attack's own
 * error is returned, not thrown, so the caller can still report the figures.
 */
export async function underAttack<T>(
  victim: Victim,
  attack: (signal: AbortSignal) => Promise<T>,
  baseline = victim.rss()
): Promise<Measured<T>> {
  const controller = new AbortController()
  let peak = victim.rss()
  let aborted = false
  const timer = setInterval(() => {
    const now = victim.rss()
    if (now > peak) peak = now
    if (now > RSS_ABORT && !aborted) {
      aborted = true
      victim.kill()
      controller.abort(new Error(`RSS ${mb(now)} over the ${mb(RSS_ABORT)} abort line`))
    }
  }, 50)
  const started = performance.now()
  let result: T | undefined
  let error: unknown
  try {
    result = await Promise.race([
      attack(controller.signal),
      new Promise<never>((_resolve, reject) =>
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error))
      )
    ])
  } catch (err) {
    error = err
  } finally {
    clearInterval(timer)
  }
  const last = victim.rss()
  if (last > peak) peak = last
  // Killed by the sampler: let the exit land so alive() tells the truth in the report.
  if (aborted) await until(() => !victim.alive(), 2000)
  return { result, error, baseline, peak, aborted, ms: Math.round(performance.now() - started) }
}

/** Poll `cond` every 20 ms until it holds or `timeoutMs` passes; for states no event announces. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

export function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`
}

/** One line of figures for the before/after table. */
export function record(suite: string, test: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ suite, test, ...figures })
  process.stderr.write(`[adv-figure] ${line}\n`)
  const file = process.env.ADV_FIGURES
  if (file !== undefined && file !== '') appendFileSync(file, line + '\n')
}
