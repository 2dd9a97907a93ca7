/**
 * A tracker in a child process run with --expose-gc, for tests that measure memory: the
 * test process's own heap (vitest, clients) would drown the tracker's. IPC: sends
 * `{ port }` when listening; answers `'measure'` with heapUsed after full GCs.
 */
import { createTracker } from '../../tracker/src/index.js'
import type { TrackerInit } from '../../tracker/src/index.js'

const init = JSON.parse(process.argv[2] ?? '{}') as TrackerInit
const tracker = createTracker({ ...init, port: 0 })

process.on('message', (msg: string) => {
  if (msg !== 'measure') return
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  for (let i = 0; i < 4; i++) gc()
  process.send!({ heapUsed: process.memoryUsage().heapUsed })
})
process.on('disconnect', () => {
  void tracker.stop().then(() => process.exit(0))
})

void tracker.start().then(() => process.send!({ port: tracker.port }))
