/**
 * `p2pcdn edge`: the only edge file that reads argv and the environment. Flags win
 * over environment variables.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { createJsonLogger } from '../../protocol/src/index.js'
import { createEdge } from './index.js'
import type { EdgeInit } from './config.js'

const USAGE = `Usage: p2pcdn edge --origin URL [options]

  --origin URL        origin to cache (P2PCDN_ORIGIN), required
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
  --access-log on|off     one JSON line per request on stdout (P2PCDN_ACCESS_LOG) [on]`

const OPTIONS = {
  origin: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  region: { type: 'string' },
  tracker: { type: 'string' },
  'tracker-ca': { type: 'string' },
  'edge-token': { type: 'string' },
  'edge-id': { type: 'string' },
  'edge-secret': { type: 'string' },
  'public-url': { type: 'string' },
  'cache-dir': { type: 'string' },
  'sdk-path': { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
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
  help: { type: 'boolean', short: 'h' }
} as const

/** @param argv the arguments after `p2pcdn edge` */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  let init: EdgeInit
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true })
    if (parsed.values.help === true) {
      process.stdout.write(USAGE + '\n')
      return
    }
    init = await initFrom(parsed.values, env)
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err))
  }

  const logger = createJsonLogger('p2pcdn:edge', s => process.stdout.write(s))
  let edge
  try {
    const accessLog =
      init.accessLog === undefined
        ? undefined
        : (lines: string): void => {
            process.stdout.write(lines)
          }
    edge = createEdge({ ...init, accessLog, logger })
  } catch (err) {
    return usageError(err instanceof Error ? err.message : String(err))
  }
  const shutdown = (signal: string): void => {
    logger.info('signal', { signal })
    edge.stop().then(
      () => process.exit(0),
      err => {
        logger.error('stop-failed', { error: String(err) })
        process.exit(1)
      }
    )
  }
  process.once('SIGINT', () => shutdown('SIGINT'))
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  try {
    await edge.start()
  } catch (err) {
    logger.error('start-failed', { error: String(err) })
    await edge.stop().catch(() => {})
    process.exitCode = 1
  }
}

async function initFrom(
  values: Partial<Record<keyof typeof OPTIONS, string | boolean>>,
  env: NodeJS.ProcessEnv
): Promise<EdgeInit> {
  const pick = (flag: keyof typeof OPTIONS, name: string): string | undefined => {
    const value = values[flag]
    const chosen = typeof value === 'string' ? value : env[name]
    return chosen === '' ? undefined : chosen
  }
  const origin = pick('origin', 'P2PCDN_ORIGIN')
  if (origin === undefined) throw new Error('missing --origin (or P2PCDN_ORIGIN)')
  const portText = pick('port', 'P2PCDN_PORT')
  let port: number | undefined
  if (portText !== undefined) {
    port = Number(portText)
    if (!/^\d+$/.test(portText) || port > 65_535) throw new Error(`--port: expected 0-65535, got "${portText}"`)
  }
  const count = (flag: keyof typeof OPTIONS, name: string): number | undefined => {
    const text = pick(flag, name)
    if (text === undefined) return undefined
    if (!/^\d+$/.test(text) || Number(text) <= 0)
      throw new Error(`--${flag}: expected a positive integer, got "${text}"`)
    return Number(text)
  }
  const certFile = pick('cert', 'P2PCDN_CERT')
  const keyFile = pick('key', 'P2PCDN_KEY')
  if ((certFile === undefined) !== (keyFile === undefined)) throw new Error('--cert and --key go together')
  const tls =
    certFile === undefined || keyFile === undefined
      ? undefined
      : { cert: await readFile(certFile), key: await readFile(keyFile) }
  const manifestKeyFile = pick('manifest-key', 'P2PCDN_MANIFEST_KEY')
  const manifestKey = manifestKeyFile === undefined ? undefined : await readFile(manifestKeyFile)
  const trackerCaFile = pick('tracker-ca', 'P2PCDN_TRACKER_CA')
  const trackerCa = trackerCaFile === undefined ? undefined : await readFile(trackerCaFile)
  const accessLogText = pick('access-log', 'P2PCDN_ACCESS_LOG') ?? 'on'
  if (accessLogText !== 'on' && accessLogText !== 'off')
    throw new Error(`--access-log: expected on or off, got "${accessLogText}"`)
  const originTimeoutMs = count('origin-timeout-ms', 'P2PCDN_ORIGIN_TIMEOUT_MS')
  return {
    tls,
    purgeToken: pick('purge-token', 'P2PCDN_PURGE_TOKEN'),
    manifestKey,
    maxBytesPerSec: count('max-bytes-per-sec', 'P2PCDN_MAX_BYTES_PER_SEC'),
    maxMemoryBytes: count('max-memory-bytes', 'P2PCDN_MAX_MEMORY_BYTES'),
    maxEntries: count('max-entries', 'P2PCDN_MAX_ENTRIES'),
    cacheKeyHeaders: pick('cache-key-headers', 'P2PCDN_CACHE_KEY_HEADERS')
      ?.split(',')
      .map(s => s.trim())
      .filter(Boolean),
    clientIdleTimeoutMs: count('client-idle-timeout-ms', 'P2PCDN_CLIENT_IDLE_TIMEOUT_MS'),
    maxConnections: count('max-connections', 'P2PCDN_MAX_CONNECTIONS'),
    maxOriginQueuePerClient: count('max-origin-queue-per-client', 'P2PCDN_MAX_ORIGIN_QUEUE_PER_CLIENT'),
    maxDiskBytes: count('max-disk-bytes', 'P2PCDN_MAX_DISK_BYTES'),
    maxObjectBytes: count('max-object-bytes', 'P2PCDN_MAX_OBJECT_BYTES'),
    originConnectTimeoutMs: originTimeoutMs,
    originHeadersTimeoutMs: originTimeoutMs,
    originBodyTimeoutMs: originTimeoutMs,
    // A placeholder sink that says "on"; main() swaps in stdout.
    accessLog: accessLogText === 'on' ? () => {} : undefined,
    origin,
    port,
    host: pick('host', 'P2PCDN_HOST'),
    region: pick('region', 'P2PCDN_REGION'),
    tracker: pick('tracker', 'P2PCDN_TRACKER'),
    trackerCa,
    edgeToken: pick('edge-token', 'P2PCDN_EDGE_TOKEN'),
    edgeId: pick('edge-id', 'P2PCDN_EDGE_ID'),
    edgeSecret: pick('edge-secret', 'P2PCDN_EDGE_SECRET'),
    publicUrl: pick('public-url', 'P2PCDN_PUBLIC_URL'),
    cacheDir: pick('cache-dir', 'P2PCDN_CACHE_DIR'),
    sdkPath: pick('sdk-path', 'P2PCDN_SDK_PATH')
  }
}

function usageError(message: string): void {
  process.stderr.write(`p2pcdn edge: ${message}\n\n${USAGE}\n`)
  process.exitCode = 2
}
