/**
 * One tracker under test, in its own process: `ours` (p2pcdn) or `theirs`
 * (bittorrent-tracker's `Server`, WebSocket transport only). Talks to run.ts over IPC:
 * sends `{ type: 'ready', port }`, answers `{ type: 'measure' }` with memory after GC and
 * the process's CPU time so far. Run with --expose-gc.
 */
// @ts-expect-error -- bittorrent-tracker ships no type declarations
import { Server as BtServer } from 'bittorrent-tracker'
import { createTracker } from '../../tracker/src/index.js'
import { measureSelf } from './messages.js'

const kind = process.argv[2]

async function start(): Promise<number> {
  if (kind === 'ours') {
    // Production defaults, except the caps: every bench socket comes from 127.0.0.1, and
    // a bench peer announces far more often than any real client would. The checks still
    // run on every message; they just never trigger. `flood` keeps the per-address
    // defaults, for the step that floods from one address (run.ts).
    const flood = process.argv[3] === 'flood'
    const perIp = flood
      ? {}
      : { messagesPerSecondPerIp: 1_000_000, messageBurstPerIp: 1_000_000, maxPeerIdsPerIpPerSwarm: 100_000 }
    const tracker = createTracker({
      port: 0,
      host: '127.0.0.1',
      maxConnectionsPerIp: 100_000,
      messagesPerSecond: 100_000,
      messageBurst: 100_000,
      ...perIp
    })
    await tracker.start()
    return tracker.port
  }
  const server = new BtServer({ udp: false, http: false, ws: true, stats: false }) as {
    listen: (port: number, host: string, cb: () => void) => void
    on: (event: string, fn: (err: Error) => void) => void
    ws: { address: () => { port: number } }
  }
  // Warnings are bad client input; the bench sends none, and logging would skew the CPU.
  server.on('warning', () => {})
  server.on('error', err => {
    process.stderr.write(`bittorrent-tracker error: ${err.message}\n`)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return server.ws.address().port
}

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'measure') process.send!(measureSelf())
})

start().then(
  port => process.send!({ type: 'ready', port }),
  (err: unknown) => {
    process.stderr.write(`bench server failed: ${String(err)}\n`)
    process.exit(1)
  }
)
