/**
 * One tracker process under bench:cluster: in memory (`none`) or `--redis <url>`. Talks to
 * run.ts over IPC like bench/tracker/server.ts: sends `{ type: 'ready', port }`, answers
 * `{ type: 'measure' }` with memory after GC and its CPU time so far. Run with --expose-gc.
 */
import { createTracker } from '../../tracker/src/index.js'
import { measureSelf, type ServerReport } from '../tracker/messages.js'

const target = process.argv[2] ?? 'none'

async function start(): Promise<number> {
  // Production defaults, but for the per-address caps: every bench socket is 127.0.0.1,
  // and a bench peer announces far more often than a real one.
  const tracker = createTracker({
    port: 0,
    host: '127.0.0.1',
    redisUrl: target === 'none' ? undefined : target,
    maxConnectionsPerIp: 100_000,
    messagesPerSecond: 100_000,
    messageBurst: 100_000,
    messagesPerSecondPerIp: 1_000_000,
    messageBurstPerIp: 1_000_000,
    maxPeerIdsPerIpPerSwarm: 100_000
  })
  await tracker.start()
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'stop') {
      tracker.stop().then(
        () => process.exit(0),
        () => process.exit(1)
      )
    }
  })
  return tracker.port
}

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'measure') process.send!(measureSelf())
  // CPU alone, without the GC passes of `measure`, which would be charged to the loop.
  if (msg.type === 'cpu') {
    const cpu = process.cpuUsage()
    process.send!({ type: 'measure', heapUsed: 0, rss: 0, cpuUs: cpu.user + cpu.system } satisfies ServerReport)
  }
})

start().then(
  port => process.send!({ type: 'ready', port }),
  (err: unknown) => {
    process.stderr.write(`bench server failed: ${String(err)}\n`)
    process.exit(1)
  }
)
