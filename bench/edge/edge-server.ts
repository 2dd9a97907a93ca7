/**
 * Our edge for the benchmark, in its own process(es) so its CPU can be read from /proc.
 * argv: origin URL, worker count (1: one process; more: `--workers N`'s primary and
 * workers, `cluster/primary.ts`). Access log off, as nginx's is in its config. Prints
 * `{"port":N}` once every worker listens.
 */
import cluster from 'node:cluster'
import { silentLogger } from '../../protocol/src/index.js'
import { createEdgeCluster } from '../../edge/src/cluster/primary.js'
import { connectWorkerLink } from '../../edge/src/cluster/worker-link.js'
import { DEFAULT_EDGE_CONFIG, createEdge } from '../../edge/src/index.js'

const origin = process.argv[2]
const workers = Number(process.argv[3] ?? '1')
if (origin === undefined || !Number.isInteger(workers) || workers < 1)
  throw new Error('usage: edge-server.ts ORIGIN_URL [WORKERS]')
const init = { origin, port: 0, host: '127.0.0.1' }

if (workers > 1 && cluster.isPrimary) {
  const edge = createEdgeCluster(init, workers, silentLogger)
  await edge.start()
  process.stdout.write(JSON.stringify({ port: edge.port }) + '\n')
  process.once('SIGTERM', () => {
    void edge.stop().then(() => process.exit(0))
  })
} else {
  const edge =
    workers > 1
      ? createEdge(
          { ...init, maxMemoryBytes: Math.floor(DEFAULT_EDGE_CONFIG.maxMemoryBytes / workers) },
          connectWorkerLink()
        )
      : createEdge(init)
  await edge.start()
  if (workers === 1) process.stdout.write(JSON.stringify({ port: edge.port }) + '\n')
  // A worker's SIGTERM comes from the primary's stop message (worker-link.ts).
  process.once('SIGTERM', () => {
    void edge.stop().then(() => process.exit(0))
  })
}
