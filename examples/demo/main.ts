/**
 * `p2pcdn demo` (= `npm start`): an origin serving examples/site, a tracker, an edge in
 * `eu` and one in `us`, and the demo page, all on 127.0.0.1.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { createJsonLogger, type Logger } from '../../protocol/src/index.js'
import { createEdge, type Edge } from '../../edge/src/index.js'
import { packageRoot } from '../../edge/src/package-root.js'
import { createTracker } from '../../tracker/src/index.js'
import { startStaticOrigin } from './static-origin.js'

const SITE = join(packageRoot(), 'examples', 'site')
export const SAMPLE_PATH = '/media/sample-8mib.bin'
const SAMPLE_BYTES = 8 * 1024 * 1024 + 123_457

/** A deterministic file of pseudo-random bytes (SHA-256 in counter mode), so runs compare. */
async function ensureSample (file: string): Promise<void> {
  if ((await stat(file).catch(() => undefined))?.size === SAMPLE_BYTES) return
  const out = Buffer.alloc(SAMPLE_BYTES)
  for (let i = 0; i * 32 < SAMPLE_BYTES; i++) createHash('sha256').update(`p2pcdn-sample-${i}`).digest().copy(out, i * 32)
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, out)
}

export async function main (argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: env.P2PCDN_DEMO_PORT ?? '8080' },
      'tracker-port': { type: 'string', default: env.P2PCDN_TRACKER_PORT ?? '8000' },
      'edge-ports': { type: 'string', default: env.P2PCDN_EDGE_PORTS ?? '8081,8082' },
      host: { type: 'string', default: env.P2PCDN_HOST ?? '127.0.0.1' }
    }
  })
  const host = values.host
  const [euPort, usPort] = values['edge-ports'].split(',').map(Number)
  const log: Logger = createJsonLogger('p2pcdn:demo', line => process.stdout.write(line), 'warn')
  const edgeToken = randomBytes(16).toString('hex')

  await ensureSample(join(SITE, SAMPLE_PATH))
  const tracker = createTracker({ port: Number(values['tracker-port']), host, edgeToken, logger: log })
  await tracker.start()
  const originPort = Number(values.port)
  const originUrl = `http://${host}:${originPort}`
  const edges: Edge[] = [['eu', euPort], ['us', usPort]].map(([region, port]) => createEdge({
    origin: originUrl, port: Number(port), host, region: String(region), tracker: tracker.url, edgeToken, logger: log
  }))
  await Promise.all(edges.map(async e => await e.start()))
  const origin = await startStaticOrigin({
    root: SITE,
    port: originPort,
    host,
    substitutions: { '{{TRACKER}}': tracker.url, '{{EDGE}}': edges[0]!.url, '{{TRACKER_HTTP}}': tracker.httpUrl }
  })

  console.log(`p2pcdn demo is running:
  demo page   ${origin.url}/        open it in two tabs: the second takes its bytes from the first
  origin      ${origin.url}  (serves examples/site)
  tracker     ${tracker.url}  (stats: ${tracker.httpUrl}/stats)
  edge eu     ${edges[0]!.url}
  edge us     ${edges[1]!.url}
Press Ctrl-C to stop.`)

  let stopping = false
  const stop = async (): Promise<void> => {
    if (stopping) return
    stopping = true
    console.log('\nstopping...')
    await Promise.allSettled([
      ...edges.map(async e => await e.stop()),
      tracker.stop(),
      new Promise(resolve => { origin.server.closeAllConnections(); origin.server.close(resolve) })
    ])
    process.exit(0)
  }
  process.once('SIGINT', () => { void stop() })
  process.once('SIGTERM', () => { void stop() })
}
