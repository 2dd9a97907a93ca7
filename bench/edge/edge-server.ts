/**
 * Our edge for the benchmark, in its own process so its CPU can be read from /proc.
 * argv: origin URL. Access log off, as nginx's is in its config. Prints `{"port":N}`.
 */
import { createEdge } from '../../edge/src/index.js'

const origin = process.argv[2]
if (origin === undefined) throw new Error('usage: edge-server.ts ORIGIN_URL')
const edge = createEdge({ origin, port: 0, host: '127.0.0.1' })
await edge.start()
process.stdout.write(JSON.stringify({ port: edge.port }) + '\n')
process.once('SIGTERM', () => {
  void edge.stop().then(() => process.exit(0))
})
