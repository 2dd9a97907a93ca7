/** IPC messages between run.ts, the server under test and the load generator. */

export interface ServerReport {
  type: 'measure'
  heapUsed: number
  rss: number
  /** User + system CPU of the server process so far, in microseconds. */
  cpuUs: number
}

export type LoadCommand =
  | { type: 'connect', url: string, peers: number }
  | { type: 'join', swarms: 'sixteen' | 'one' }
  | { type: 'closed', swarms: 'sixteen' | 'one', offers: boolean, durationMs: number }
  | { type: 'open', ratePerSec: number, durationMs: number }
  | { type: 'close' }

export type LoadReply =
  | { type: 'done', replies: number, failures: number, elapsedMs: number, latenciesMs?: number[] }
  | { type: 'error', message: string }
