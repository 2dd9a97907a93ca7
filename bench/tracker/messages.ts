/** IPC messages between run.ts, the server under test and the load generator. */

export interface ServerReport {
  type: 'measure'
  heapUsed: number
  rss: number
  /** User + system CPU of the server process so far, in microseconds. */
  cpuUs: number
}

/** This process's report, after the garbage the run left is collected (needs `--expose-gc`). */
export function measureSelf(): ServerReport {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run the bench server with --expose-gc')
  // Several passes: weak references and finalisers need more than one to settle.
  for (let i = 0; i < 4; i++) gc()
  const mem = process.memoryUsage()
  const cpu = process.cpuUsage()
  return { type: 'measure', heapUsed: mem.heapUsed, rss: mem.rss, cpuUs: cpu.user + cpu.system }
}

export type LoadCommand =
  /** `urls`, when given, spreads the peers over several trackers round-robin (bench:cluster). */
  | { type: 'connect'; url: string; peers: number; urls?: string[] }
  | { type: 'join'; swarms: 'sixteen' | 'one' }
  | { type: 'closed'; swarms: 'sixteen' | 'one'; offers: boolean; durationMs: number }
  | { type: 'open'; ratePerSec: number; durationMs: number }
  /** Many raw sockets from one local address announcing with offers at a fixed rate each; held only for the flood. */
  | {
      type: 'flood'
      url: string
      sockets: number
      swarms: number
      ratePerSocket: number
      offers: number
      durationMs: number
      localAddress: string
    }
  | { type: 'close' }

export type LoadReply =
  | {
      type: 'done'
      replies: number
      failures: number
      elapsedMs: number
      latenciesMs?: number[]
      sent?: number
      warned?: number
    }
  | { type: 'error'; message: string }
