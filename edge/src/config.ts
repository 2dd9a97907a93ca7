/**
 * Edge options: `EdgeInit` is what callers pass, `EdgeConfig` the resolved version.
 * Bad options throw an `OptionError` (a `TypeError`) that names the option.
 */
import { join } from 'node:path'
import {
  DEFAULT_CHUNK_SIZE_BYTES,
  EDGE_ID_RULE,
  MAX_CHUNK_SIZE_BYTES,
  MIN_CHUNK_SIZE_BYTES,
  dropUndefined,
  isEdgeId,
  silentLogger,
  systemNow
} from '../../protocol/src/index.js'
import type { Logger, Now } from '../../protocol/src/index.js'
import { checkLogger } from '../../service/src/log.js'
import {
  OptionError,
  checkNonEmptyString,
  checkPort,
  checkPositiveInteger,
  optionError
} from '../../service/src/options.js'
import { DEFAULT_SHUTDOWN_GRACE_MS } from '../../service/src/shutdown.js'
import { checkTls } from '../../service/src/tls.js'
import type { TlsOptions } from '../../service/src/tls.js'
import { parseManifestPrivateKey } from './manifest-signer.js'
import { isKeyField } from './origin-request.js'
import { packageRoot } from './package-root.js'

export interface EdgeInit {
  /**
   * Base URL of the one origin this edge fronts: `http(s)://host[:port]`, no path.
   * Required.
   */
  origin: string | URL
  /**
   * Base URL of a parent edge (the shield), `http(s)://host[:port]`, no path: fills,
   * revalidations and pass-through requests go there instead of to `origin`, which
   * still names the origin in manifests and absolute-form targets. The parent is an edge
   * of the same `origin`. When it is down clients get 502/504 (or a stale copy that
   * `stale-if-error` allows): the edge does not go round it to the origin. @default undefined (fill from the origin)
   */
  parent?: string | URL
  /** TCP port to listen on; 0 picks any free port. @default 8081 */
  port?: number
  /** Address to listen on. @default '127.0.0.1' */
  host?: string
  /** Region this edge serves, reported to the tracker and in `X-P2PCDN-Region`. @default 'default' */
  region?: string
  /** Tracker WebSocket URL (`ws://` or `wss://`). Without it the edge runs standalone. @default undefined */
  tracker?: string
  /**
   * PEM CA certificate(s) to trust for a `wss://` tracker, besides Node's built-in roots:
   * for a tracker with a private or self-signed certificate. @default undefined
   */
  trackerCa?: string | Buffer
  /** Shared token the tracker requires for edge registration (its simple mode). @default undefined */
  edgeToken?: string
  /** This edge's id in the tracker's edges file; goes with `edgeSecret`. @default undefined */
  edgeId?: string
  /**
   * This edge's own secret (the tracker's edges file holds its SHA-256): sent when
   * registering, and the key of the answer to the tracker's challenge. @default undefined
   */
  edgeSecret?: string
  /** Base URL clients reach this edge at. @default `http://host:port` once listening */
  publicUrl?: string
  /**
   * Directory for the on-disk cache. When set, every cached object is also written
   * there (temp file, then rename) and found again after a restart. @default undefined (memory only)
   */
  cacheDir?: string
  /** Bytes per manifest chunk. @default DEFAULT_CHUNK_SIZE_BYTES (256 KiB) */
  chunkSize?: number
  /** Path of the built browser SDK served at `/p2pcdn.js`. @default `<package root>/dist/p2pcdn.js` */
  sdkPath?: string
  /** Objects larger than this, in bytes, are passed through, not cached. @default 256 MiB */
  maxObjectBytes?: number
  /**
   * Bytes of content the edge holds in memory: stored bodies with their metadata, and
   * bodies of fills still arriving. Least recently used entries go first (they stay on
   * disk); a fill that cannot get room passes through uncached. @default 512 MiB
   */
  maxMemoryBytes?: number
  /** Most cached variants, in memory and on disk each. @default 100_000 */
  maxEntries?: number
  /**
   * Request headers that are part of the cache key and forwarded to the origin on fills
   * (besides those a response's `Vary` names, and credentials). @default []
   */
  cacheKeyHeaders?: string[]
  /** A client connection with no progress (nothing read, nothing sent) for this long is closed, in milliseconds. @default 60_000 */
  clientIdleTimeoutMs?: number
  /** Most client connections open at once; more are refused. @default 10_000 */
  maxConnections?: number
  /** Origin requests one client address may have waiting for a turn; past it the client gets 503. @default 64 */
  maxOriginQueuePerClient?: number
  /** Total body bytes kept under `cacheDir`; least recently used entries go first. @default 10 GiB */
  maxDiskBytes?: number
  /** Most sockets open to the origin at once (keep-alive). @default 64 */
  originConnections?: number
  /** Time to connect to the origin, in milliseconds; over it the client gets 504. @default 10_000 */
  originConnectTimeoutMs?: number
  /** Time to the origin's response head, in milliseconds; over it the client gets 504. @default 30_000 */
  originHeadersTimeoutMs?: number
  /** Longest silence inside an origin body, in milliseconds, before it is abandoned. @default 30_000 */
  originBodyTimeoutMs?: number
  /** Bearer token for `POST /_p2pcdn/purge`. Without it purging is disabled. @default undefined */
  purgeToken?: string
  /**
   * The operator's Ed25519 private key (PKCS#8 PEM, as `p2pcdn keygen` writes it): every
   * manifest this edge serves carries a signature by it, so pages with the matching
   * `manifestKey` can tell its manifests from a rogue edge's. @default undefined (unsigned)
   */
  manifestKey?: string | Buffer
  /** PEM certificate chain and key: serve HTTPS instead of HTTP. @default undefined */
  tls?: TlsOptions
  /**
   * On `stop()`, how long downloads in flight may take to finish before their connections
   * are cut, in milliseconds. @default 5000
   */
  shutdownGraceMs?: number
  /** Cap on the total rate of response body bytes sent, in bytes per second. @default undefined (no cap) */
  maxBytesPerSec?: number
  /** Receives one JSON access-log line (with newline) per request. @default undefined (no access log) */
  accessLog?: (line: string) => void
  /** Structured logger. @default silentLogger */
  logger?: Logger
  /** The clock for cache freshness and load reports, in milliseconds since the epoch. @default Date.now */
  now?: Now
}

export interface EdgeConfig {
  origin: URL
  parent: URL | undefined
  port: number
  host: string
  region: string
  tracker: string | undefined
  trackerCa: string | Buffer | undefined
  edgeToken: string | undefined
  edgeId: string | undefined
  edgeSecret: string | undefined
  publicUrl: string | undefined
  cacheDir: string | undefined
  chunkSize: number
  sdkPath: string
  maxObjectBytes: number
  maxMemoryBytes: number
  maxEntries: number
  cacheKeyHeaders: string[]
  clientIdleTimeoutMs: number
  maxConnections: number
  maxOriginQueuePerClient: number
  maxDiskBytes: number
  originConnections: number
  originConnectTimeoutMs: number
  originHeadersTimeoutMs: number
  originBodyTimeoutMs: number
  purgeToken: string | undefined
  manifestKey: string | Buffer | undefined
  tls: TlsOptions | undefined
  shutdownGraceMs: number
  maxBytesPerSec: number | undefined
  accessLog: ((line: string) => void) | undefined
  logger: Logger
  now: Now
}

export const DEFAULT_EDGE_CONFIG = {
  port: 8081,
  host: '127.0.0.1',
  region: 'default',
  chunkSize: DEFAULT_CHUNK_SIZE_BYTES,
  maxObjectBytes: 256 * 1024 * 1024,
  maxMemoryBytes: 512 * 1024 * 1024,
  maxEntries: 100_000,
  clientIdleTimeoutMs: 60_000,
  maxConnections: 10_000,
  maxOriginQueuePerClient: 64,
  maxDiskBytes: 10 * 1024 * 1024 * 1024,
  originConnections: 64,
  originConnectTimeoutMs: 10_000,
  originHeadersTimeoutMs: 30_000,
  originBodyTimeoutMs: 30_000,
  shutdownGraceMs: DEFAULT_SHUTDOWN_GRACE_MS,
  logger: silentLogger,
  now: systemNow
} as const

/** As the tracker's edges file asks: secrets are machine-made (`openssl rand -base64 32`). */
const MIN_EDGE_SECRET_CHARS = 16
/** Same limit as the tracker's parser applies to `region`. */
const MAX_REGION_CHARS = 64

export function resolveConfig(init: EdgeInit): EdgeConfig {
  // For callers from plain JavaScript, which the type does not hold back.
  const raw: unknown = init
  if (typeof raw !== 'object' || raw === null) throw optionError('origin', 'an options object with `origin`')
  const given = dropUndefined(init)
  const origin = parseBaseUrl('origin', given.origin, 'the URL of the origin server (required)')
  const parent =
    given.parent === undefined ? undefined : parseBaseUrl('parent', given.parent, 'the URL of a parent edge')
  const config: EdgeConfig = {
    ...DEFAULT_EDGE_CONFIG,
    tracker: undefined,
    trackerCa: undefined,
    edgeToken: undefined,
    edgeId: undefined,
    edgeSecret: undefined,
    publicUrl: undefined,
    cacheDir: undefined,
    purgeToken: undefined,
    manifestKey: undefined,
    tls: undefined,
    maxBytesPerSec: undefined,
    accessLog: undefined,
    sdkPath: '',
    ...given,
    cacheKeyHeaders: parseHeaderNames('cacheKeyHeaders', given.cacheKeyHeaders),
    origin,
    parent
  }
  checkPort('port', config.port)
  checkNonEmptyString('host', config.host)
  if (typeof config.region !== 'string' || config.region === '' || config.region.length > MAX_REGION_CHARS)
    throw optionError('region', `a non-empty string of at most ${MAX_REGION_CHARS} characters`, config.region)
  if (config.tracker !== undefined && !isUrl(config.tracker, ['ws:', 'wss:']))
    throw optionError('tracker', 'a ws:// or wss:// URL', config.tracker)
  if (
    config.trackerCa !== undefined &&
    !((typeof config.trackerCa === 'string' || Buffer.isBuffer(config.trackerCa)) && config.trackerCa.length > 0)
  )
    throw optionError('trackerCa', 'PEM contents')
  if (config.edgeToken !== undefined) checkNonEmptyString('edgeToken', config.edgeToken)
  if (config.edgeId !== undefined && !isEdgeId(config.edgeId)) throw optionError('edgeId', EDGE_ID_RULE, config.edgeId)
  if (
    config.edgeSecret !== undefined &&
    (typeof config.edgeSecret !== 'string' || config.edgeSecret.length < MIN_EDGE_SECRET_CHARS)
  )
    throw optionError('edgeSecret', `a string of at least ${MIN_EDGE_SECRET_CHARS} characters`)
  if ((config.edgeId === undefined) !== (config.edgeSecret === undefined))
    throw new OptionError(config.edgeId === undefined ? 'edgeSecret' : 'edgeId', 'edgeId and edgeSecret go together')
  if (config.edgeSecret !== undefined && config.edgeToken !== undefined)
    throw new OptionError('edgeToken', 'not with edgeSecret (an edge registers with one or the other)')
  if (config.publicUrl !== undefined) {
    if (!isUrl(config.publicUrl, ['http:', 'https:']))
      throw optionError('publicUrl', 'an http(s) URL', config.publicUrl)
    config.publicUrl = config.publicUrl.replace(/\/+$/, '')
    if (parent !== undefined && new URL(config.publicUrl).origin === parent.origin)
      throw new OptionError(
        'parent',
        `is this edge's own publicUrl (${parent.origin}): an edge cannot fill from itself`
      )
  }
  if (config.cacheDir !== undefined && (typeof config.cacheDir !== 'string' || config.cacheDir === ''))
    throw optionError('cacheDir', 'a directory path', config.cacheDir)
  checkPositiveInteger('chunkSize', config.chunkSize)
  if (config.chunkSize < MIN_CHUNK_SIZE_BYTES || config.chunkSize > MAX_CHUNK_SIZE_BYTES)
    throw optionError('chunkSize', `${MIN_CHUNK_SIZE_BYTES}-${MAX_CHUNK_SIZE_BYTES} bytes`, config.chunkSize)
  for (const name of [
    'maxObjectBytes',
    'maxMemoryBytes',
    'maxDiskBytes',
    'maxEntries',
    'clientIdleTimeoutMs',
    'maxConnections',
    'maxOriginQueuePerClient',
    'originConnections',
    'originConnectTimeoutMs',
    'originHeadersTimeoutMs',
    'originBodyTimeoutMs',
    'shutdownGraceMs'
  ] as const)
    checkPositiveInteger(name, config[name])
  if (config.maxBytesPerSec !== undefined) checkPositiveInteger('maxBytesPerSec', config.maxBytesPerSec)
  if (config.purgeToken !== undefined) checkNonEmptyString('purgeToken', config.purgeToken)
  if (config.tls !== undefined) checkTls('tls', config.tls)
  if (config.manifestKey !== undefined) parseManifestPrivateKey(config.manifestKey)
  if (config.accessLog !== undefined && typeof config.accessLog !== 'function')
    throw optionError('accessLog', 'a function')
  checkLogger('logger', config.logger)
  if (typeof config.now !== 'function') throw optionError('now', 'a function returning milliseconds')
  if (config.sdkPath === '') config.sdkPath = defaultSdkPath()
  return config
}

/** `origin` or `parent`: `scheme://host[:port]`. */
function parseBaseUrl(name: 'origin' | 'parent', value: unknown, what: string): URL {
  const text = value instanceof URL ? value.href : typeof value === 'string' ? value : ''
  if (text === '') throw optionError(name, what)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw optionError(name, 'a valid URL', text)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw optionError(name, 'an http: or https: URL', text)
  // Cache keys are request paths, asked of a parent as they are of the origin; a base
  // path would make the key/URL mapping two-way ambiguous.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '')
    throw optionError(name, 'scheme://host[:port] without path, query or credentials', text)
  return new URL(url.origin)
}

function parseHeaderNames(name: string, value: unknown): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw optionError(name, 'an array of header names', value)
  return value.map(v => {
    const field = typeof v === 'string' ? v.trim().toLowerCase() : ''
    // RFC 9110 §5.1: a field name is a token.
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(field)) throw optionError(name, 'header names', v)
    if (!isKeyField(field)) throw new OptionError(name, `${field} cannot be a cache key header`)
    return field
  })
}

function isUrl(value: unknown, protocols: string[]): boolean {
  if (typeof value !== 'string') return false
  try {
    return protocols.includes(new URL(value).protocol)
  } catch {
    return false
  }
}

/** `<package root>/dist/p2pcdn.js`. */
export function defaultSdkPath(): string {
  return join(packageRoot(), 'dist', 'p2pcdn.js')
}
