/**
 * `p2pcdn edge`: the only edge file that reads argv, the environment and a config file.
 * Flags win over environment variables, which win over the file.
 */
import { FlagReader, OptionError } from '../../service/src/options.js'
import { runService } from '../../service/src/main.js'
import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import { scopeLogger } from '../../service/src/log.js'
import { createEdgeCluster } from './cluster/primary.js'
import { connectWorkerLink } from './cluster/worker-link.js'
import { DEFAULT_EDGE_CONFIG } from './config.js'
import { createEdge } from './index.js'
import type { EdgeInit } from './config.js'

const USAGE = `Usage: p2pcdn edge --origin URL [options]

  --origin URL        origin to cache (P2PCDN_ORIGIN), required
  --parent URL        fill from this parent edge (the shield) instead of the origin (P2PCDN_PARENT)
  --config FILE       JSON file of options, each key a flag in camelCase: {"origin": "https://o.example",
                      "edgeToken": "T"} (P2PCDN_CONFIG); flags and P2PCDN_* variables win over it
  --port N            port to listen on, 0 = any (P2PCDN_PORT) [8081]
  --host ADDR         address to listen on (P2PCDN_HOST) [127.0.0.1]
  --region NAME       region this edge serves (P2PCDN_REGION) [default]
  --tracker URL       tracker ws:// URL to register with (P2PCDN_TRACKER)
  --tracker-ca FILE   PEM CA to trust for a wss:// tracker's certificate (P2PCDN_TRACKER_CA)
  --edge-token T      tracker's shared edge token (P2PCDN_EDGE_TOKEN)
  --edge-id ID        this edge's id in the tracker's edges file (P2PCDN_EDGE_ID); needs --edge-secret
  --edge-secret S     this edge's own secret (P2PCDN_EDGE_SECRET), instead of --edge-token
  --public-url URL    URL clients reach this edge at (P2PCDN_PUBLIC_URL) [http://host:port]
  --cache-dir DIR     also keep the cache on disk here (P2PCDN_CACHE_DIR)
  --sdk-path FILE     browser SDK served at /p2pcdn.js (P2PCDN_SDK_PATH) [dist/p2pcdn.js]
  --cert FILE         PEM certificate chain: serve HTTPS (P2PCDN_CERT); needs --key
  --key FILE          PEM private key for --cert (P2PCDN_KEY)
  --purge-token T     bearer token for POST /_p2pcdn/purge (P2PCDN_PURGE_TOKEN) [purge off]
  --manifest-key FILE Ed25519 private key (PEM, from p2pcdn keygen): sign every manifest served (P2PCDN_MANIFEST_KEY) [unsigned]
  --max-bytes-per-sec N   cap on total body bytes sent per second (P2PCDN_MAX_BYTES_PER_SEC) [no cap]
  --max-memory-bytes N    content bytes held in memory: cache and fills (P2PCDN_MAX_MEMORY_BYTES) [512 MiB]
  --max-entries N         cached variants, in memory and on disk each (P2PCDN_MAX_ENTRIES) [100000]
  --cache-key-headers A,B request headers forwarded on fills and part of the key (P2PCDN_CACHE_KEY_HEADERS) [none]
  --client-idle-timeout-ms N  close a client connection idle this long (P2PCDN_CLIENT_IDLE_TIMEOUT_MS) [60000]
  --max-connections N     client connections at once (P2PCDN_MAX_CONNECTIONS) [10000]
  --max-origin-queue-per-client N  origin requests a client may have waiting (P2PCDN_MAX_ORIGIN_QUEUE_PER_CLIENT) [64]
  --max-disk-bytes N      body bytes kept under --cache-dir (P2PCDN_MAX_DISK_BYTES) [10 GiB]
  --max-object-bytes N    larger objects are passed through (P2PCDN_MAX_OBJECT_BYTES) [256 MiB]
  --origin-timeout-ms N   origin connect/header/idle-body timeout (P2PCDN_ORIGIN_TIMEOUT_MS) [10000/30000/30000]
  --access-log on|off     one JSON line per request on stdout (P2PCDN_ACCESS_LOG) [on]
  --shutdown-grace-ms N   on SIGINT/SIGTERM, how long downloads in flight may take to finish (P2PCDN_SHUTDOWN_GRACE_MS) [5000]
  --workers N|auto        processes serving the port, auto = one per core (P2PCDN_WORKERS) [1]; they share
                          --cache-dir, and --max-memory-bytes is split between them`

const OPTIONS = {
  origin: { type: 'string' },
  parent: { type: 'string' },
  region: { type: 'string' },
  tracker: { type: 'string' },
  'tracker-ca': { type: 'string' },
  'edge-token': { type: 'string' },
  'edge-id': { type: 'string' },
  'edge-secret': { type: 'string' },
  'public-url': { type: 'string' },
  'cache-dir': { type: 'string' },
  'sdk-path': { type: 'string' },
  'purge-token': { type: 'string' },
  'manifest-key': { type: 'string' },
  'max-bytes-per-sec': { type: 'string' },
  'max-memory-bytes': { type: 'string' },
  'max-entries': { type: 'string' },
  'cache-key-headers': { type: 'string' },
  'client-idle-timeout-ms': { type: 'string' },
  'max-connections': { type: 'string' },
  'max-origin-queue-per-client': { type: 'string' },
  'max-disk-bytes': { type: 'string' },
  'max-object-bytes': { type: 'string' },
  'origin-timeout-ms': { type: 'string' },
  'access-log': { type: 'string' },
  workers: { type: 'string' }
} as const

/** More processes than this is a typo, not a machine. */
const MAX_WORKERS = 256

type MainInit = EdgeInit & { workers: number }

/** Writes to a pipe up to this size are atomic (POSIX PIPE_BUF on Linux). */
const PIPE_BUF_BYTES = 4096

const writeStdout = (lines: string): void => void process.stdout.write(lines)

/**
 * Workers share stdout: each write holds whole lines and stays within PIPE_BUF, so lines of
 * two workers never interleave on a pipe (stdout writes are synchronous on Linux). A single
 * line longer than that (a URL near the 8 KiB limit) may still be cut into by another.
 */
function writeLinesAtomically(lines: string): void {
  const bytes = Buffer.from(lines)
  let start = 0
  while (start < bytes.length) {
    let end = bytes.length
    if (end - start > PIPE_BUF_BYTES) {
      // A newline byte never occurs inside a multi-byte UTF-8 character.
      const cut = bytes.lastIndexOf(0x0a, start + PIPE_BUF_BYTES - 1)
      end = cut >= start ? cut + 1 : bytes.indexOf(0x0a, start) + 1 || bytes.length
    }
    process.stdout.write(bytes.subarray(start, end))
    start = end
  }
}

/** @param argv the arguments after `p2pcdn edge`; exit codes as service/src/main.ts says. */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await runService(
    {
      name: 'edge',
      usage: USAGE,
      options: OPTIONS,
      secrets: ['edge-token', 'edge-secret', 'purge-token'],
      read: readOptions,
      create: ({ workers, ...init }, logger) => {
        const edgeInit: EdgeInit = {
          ...init,
          // readOptions leaves a placeholder sink that says "on".
          accessLog: init.accessLog === undefined ? undefined : workers === 1 ? writeStdout : writeLinesAtomically,
          logger
        }
        if (workers === 1) return createEdge(edgeInit)
        if (cluster.isPrimary) return createEdgeCluster(edgeInit, workers, logger)
        // A worker runs this same command line: it is one edge of the primary's cluster.
        return createEdge(
          {
            ...edgeInit,
            logger: scopeLogger(logger, `worker-${cluster.worker?.id ?? 0}`),
            maxMemoryBytes: Math.max(
              1,
              Math.floor((init.maxMemoryBytes ?? DEFAULT_EDGE_CONFIG.maxMemoryBytes) / workers)
            )
          },
          connectWorkerLink()
        )
      },
      started: edge => {
        if (!cluster.isWorker) process.stderr.write(`p2pcdn edge listening on ${edge.url}\n`)
      }
    },
    argv,
    env
  )
}

function readOptions(flags: FlagReader): MainInit {
  const origin = flags.string('origin', 'P2PCDN_ORIGIN')
  if (origin === undefined)
    throw new OptionError(
      '--origin',
      'required (or P2PCDN_ORIGIN, or "origin" in --config): the URL of the origin to cache'
    )
  const originTimeoutMs = flags.integer('origin-timeout-ms', 'P2PCDN_ORIGIN_TIMEOUT_MS')
  const accessLog = flags.choice('access-log', 'P2PCDN_ACCESS_LOG', ['on', 'off']) ?? 'on'
  return {
    ...flags.service(),
    purgeToken: flags.string('purge-token', 'P2PCDN_PURGE_TOKEN'),
    manifestKey: flags.file('manifest-key', 'P2PCDN_MANIFEST_KEY'),
    maxBytesPerSec: flags.integer('max-bytes-per-sec', 'P2PCDN_MAX_BYTES_PER_SEC'),
    maxMemoryBytes: flags.integer('max-memory-bytes', 'P2PCDN_MAX_MEMORY_BYTES'),
    maxEntries: flags.integer('max-entries', 'P2PCDN_MAX_ENTRIES'),
    cacheKeyHeaders: flags.list('cache-key-headers', 'P2PCDN_CACHE_KEY_HEADERS'),
    clientIdleTimeoutMs: flags.integer('client-idle-timeout-ms', 'P2PCDN_CLIENT_IDLE_TIMEOUT_MS'),
    maxConnections: flags.integer('max-connections', 'P2PCDN_MAX_CONNECTIONS'),
    maxOriginQueuePerClient: flags.integer('max-origin-queue-per-client', 'P2PCDN_MAX_ORIGIN_QUEUE_PER_CLIENT'),
    maxDiskBytes: flags.integer('max-disk-bytes', 'P2PCDN_MAX_DISK_BYTES'),
    maxObjectBytes: flags.integer('max-object-bytes', 'P2PCDN_MAX_OBJECT_BYTES'),
    originConnectTimeoutMs: originTimeoutMs,
    originHeadersTimeoutMs: originTimeoutMs,
    originBodyTimeoutMs: originTimeoutMs,
    accessLog: accessLog === 'on' ? () => {} : undefined,
    origin,
    parent: flags.string('parent', 'P2PCDN_PARENT'),
    region: flags.string('region', 'P2PCDN_REGION'),
    tracker: flags.string('tracker', 'P2PCDN_TRACKER'),
    trackerCa: flags.file('tracker-ca', 'P2PCDN_TRACKER_CA'),
    edgeToken: flags.string('edge-token', 'P2PCDN_EDGE_TOKEN'),
    edgeId: flags.string('edge-id', 'P2PCDN_EDGE_ID'),
    edgeSecret: flags.string('edge-secret', 'P2PCDN_EDGE_SECRET'),
    publicUrl: flags.string('public-url', 'P2PCDN_PUBLIC_URL'),
    cacheDir: flags.path('cache-dir', 'P2PCDN_CACHE_DIR'),
    sdkPath: flags.path('sdk-path', 'P2PCDN_SDK_PATH'),
    workers: flags.count('workers', 'P2PCDN_WORKERS', availableParallelism(), MAX_WORKERS) ?? 1
  }
}
