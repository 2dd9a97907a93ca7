/**
 * `p2pcdn demo` (= `npm start`): an origin serving examples/site, a tracker, an edge in
 * `eu` and one in `us`, and the demo page, all on 127.0.0.1.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { createJsonLogger, type Logger } from '../../protocol/src/index.js'
import { createEdge, type Edge } from '../../edge/src/index.js'
import { generateManifestKeyPair } from '../../edge/src/manifest-signer.js'
import { packageRoot } from '../../edge/src/package-root.js'
import { runService } from '../../service/src/main.js'
import { FlagReader, OptionError, optionError } from '../../service/src/options.js'
import { createTracker } from '../../tracker/src/index.js'
import { deterministicBytes } from './deterministic-bytes.js'
import { startStaticOrigin } from './static-origin.js'
import { ensureVideo, HLS_JS, VIDEO_PLAYLIST } from './video.js'

const SITE = join(packageRoot(), 'examples', 'site')
export const SAMPLE_PATH = '/media/sample-8mib.bin'
const SAMPLE_BYTES = 8 * 1024 * 1024 + 123_457

/** The same pseudo-random bytes on every machine, so runs compare. */
async function ensureSample(file: string): Promise<void> {
  if ((await stat(file).catch(() => undefined))?.size === SAMPLE_BYTES) return
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, deterministicBytes(SAMPLE_BYTES, 'p2pcdn-sample'))
}

export interface DemoInit {
  /** Port of the origin and demo page (0 = any). */
  port: number
  trackerPort: number
  /** Ports of the `eu` and `us` edges. */
  edgePorts: [number, number]
  host: string
  logger: Logger
}

export interface Demo {
  pageUrl: string
  trackerUrl: string
  trackerHttpUrl: string
  edgeUrls: string[]
  /** Why the page has no video (no ffmpeg), or undefined when it plays one. */
  noVideo: string | undefined
  stop: () => Promise<void>
}

/** Start everything the demo needs; used by `p2pcdn demo` and by the demo's browser test. */
export async function startDemo(init: DemoInit): Promise<Demo> {
  const { host, logger } = init
  // The npm package leaves the site out: without this, the page would be a 404.
  if ((await stat(join(SITE, 'index.html')).catch(() => undefined)) === undefined)
    throw new Error(`the demo runs from a clone of the repository: ${SITE} is missing`)
  const edgeToken = randomBytes(16).toString('hex')
  const [noVideo] = await Promise.all([ensureVideo(SITE), ensureSample(join(SITE, SAMPLE_PATH))])
  const tracker = createTracker({ port: init.trackerPort, host, edgeToken, logger })
  await tracker.start()
  // The origin listens first so the edges know its URL; the page it serves is templated
  // with the tracker and edge URLs, which exist by the time a browser asks for it.
  // The demo signs its manifests, as a deployment should: the page carries the public
  // key, and no edge the tracker lists can get a byte accepted without the private one.
  const key = generateManifestKeyPair()
  const substitutions: Record<string, string> = {
    '{{TRACKER}}': tracker.url,
    '{{MANIFEST_KEY}}': key.publicKey,
    '{{VIDEO}}': noVideo === undefined ? VIDEO_PLAYLIST : '',
    '{{HLS_JS}}': HLS_JS,
    '{{NO_VIDEO}}': noVideo ?? ''
  }
  const routes = {
    // The page shows the tracker's view; served from the page's own origin so no CORS is needed.
    '/_demo/tracker-stats': async () => await (await fetch(`${tracker.httpUrl}/stats`)).json()
  }
  const origin = await startStaticOrigin({ root: SITE, port: init.port, host, substitutions, routes })
  const edges: Edge[] = (['eu', 'us'] as const).map((region, i) =>
    createEdge({
      origin: origin.url,
      port: init.edgePorts[i]!,
      host,
      region,
      tracker: tracker.url,
      edgeToken,
      logger,
      manifestKey: key.privateKeyPem
    })
  )
  await Promise.all(edges.map(async e => await e.start()))
  substitutions['{{EDGE}}'] = edges[0]!.url
  return {
    pageUrl: `${origin.url}/`,
    trackerUrl: tracker.url,
    trackerHttpUrl: tracker.httpUrl,
    edgeUrls: edges.map(e => e.url),
    noVideo,
    stop: async () => {
      await Promise.allSettled([
        ...edges.map(async e => await e.stop()),
        tracker.stop(),
        new Promise(resolve => {
          origin.server.closeAllConnections()
          origin.server.close(resolve)
        })
      ])
    }
  }
}

const USAGE = `Usage: p2pcdn demo [--port 8080] [--tracker-port 8000] [--edge-ports 8081,8082] [--host 127.0.0.1]

Every flag also has an environment variable: P2PCDN_DEMO_PORT, P2PCDN_TRACKER_PORT,
P2PCDN_EDGE_PORTS, P2PCDN_HOST; --config FILE takes them as JSON ({"trackerPort": 8000}).`

type DemoOptions = Omit<DemoInit, 'logger'>

/** Run the demo until SIGINT or SIGTERM, with the services' flags, errors and exit codes. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await runService(
    {
      name: 'demo',
      usage: USAGE,
      options: { 'tracker-port': { type: 'string' }, 'edge-ports': { type: 'string' } },
      read: readOptions,
      // Warnings only: the demo's terminal is for the URLs below, not every request.
      create: init =>
        demoService({ ...init, logger: createJsonLogger('p2pcdn:demo', line => process.stdout.write(line), 'warn') }),
      started: service => {
        const demo = service.demo!
        console.log(`p2pcdn demo is running:
  demo page   ${demo.pageUrl}        open it in two tabs: the second takes its bytes from the first
  tracker     ${demo.trackerUrl}  (stats: ${demo.trackerHttpUrl}/stats)
  edge eu     ${demo.edgeUrls[0]!}
  edge us     ${demo.edgeUrls[1]!}${demo.noVideo === undefined ? '' : `\n  (no video section: ${demo.noVideo})`}
Press Ctrl-C to stop.`)
      }
    },
    argv,
    env
  )
}

function readOptions(flags: FlagReader): DemoOptions {
  if (flags.tls() !== undefined)
    throw new OptionError('--cert', 'not supported by the demo, which serves plain HTTP on 127.0.0.1')
  if (flags.integer('shutdown-grace-ms', 'P2PCDN_SHUTDOWN_GRACE_MS') !== undefined)
    throw new OptionError('--shutdown-grace-ms', 'not supported by the demo')
  const edgePorts = (flags.string('edge-ports', 'P2PCDN_EDGE_PORTS') ?? '8081,8082').split(',')
  if (edgePorts.length !== 2 || !edgePorts.every(p => /^\d+$/.test(p) && Number(p) <= 65_535))
    throw optionError('--edge-ports', 'two ports, comma-separated, like 8081,8082', edgePorts.join(','))
  return {
    port: flags.port('port', 'P2PCDN_DEMO_PORT') ?? 8080,
    trackerPort: flags.port('tracker-port', 'P2PCDN_TRACKER_PORT') ?? 8000,
    edgePorts: [Number(edgePorts[0]), Number(edgePorts[1])],
    host: flags.string('host', 'P2PCDN_HOST') ?? '127.0.0.1'
  }
}

/** The demo as a service: `start` brings everything up, `stop` takes it down. */
function demoService(init: DemoInit): {
  demo: Demo | undefined
  start: () => Promise<void>
  stop: () => Promise<void>
} {
  const service = {
    demo: undefined as Demo | undefined,
    start: async () => {
      service.demo = await startDemo(init)
    },
    stop: async () => {
      console.log('\nstopping...')
      await service.demo?.stop()
    }
  }
  return service
}
