import { dropUndefined, parseManifestPublicKey } from '../../protocol/src/index.js'

/** An ICE server, as in `RTCConfiguration.iceServers` (spelled out so this module needs no DOM types). */
export interface IceServer {
  urls: string | string[]
  username?: string
  credential?: string
}

/**
 * Options of `P2PCDN.create()`. Everything is optional; without `tracker` (or until
 * consent) the SDK uses only `edges` and the origin.
 */
export interface ClientInit {
  /** WebSocket URL of the tracker, e.g. `wss://tracker.example`. */
  tracker?: string
  /**
   * Swarm name: peers in one swarm share one data channel per pair for every resource.
   * @default location.host
   */
  swarm?: string
  /** Force the region instead of taking the fastest edge's (measured by a ping). */
  region?: string
  /** Edge base URLs to use besides (or without) the tracker's list. They always count. */
  edges?: string[]
  /**
   * Origins whose tracker-listed edges may be used: `https://eu1.cdn.example`,
   * `https://*.cdn.example` (any subdomain), or `'*'` (any). Tracker-listed edges
   * elsewhere are ignored; configured `edges` always count.
   * @default `['*']` with a `manifestKey` (every manifest must verify anyway); without one,
   * the origins of `edges`, of the page and of the script that loaded the SDK
   */
  edgeOrigins?: string[]
  /**
   * The operator's Ed25519 public key(s) for manifests (raw 32 bytes as base64url, from
   * `p2pcdn keygen`); several while a key rotates. With a key set, the SDK uses no
   * manifest that no configured key signed: it emits `error` `ERR_SIGNATURE` and takes
   * the resource from the origin instead, never from peers. Where WebCrypto has no
   * Ed25519, every resource comes from the origin.
   * @default undefined (manifests trusted by where they come from)
   */
  manifestKey?: string | string[]
  /**
   * Most RTCPeerConnections at once, connecting ones and our open offers included.
   * @default 8
   */
  maxPeers?: number
  /**
   * Use peers at all: the global P2P switch. `false` means edge and origin only, and no
   * tracker socket or RTCPeerConnection is ever opened.
   * @default true
   */
  p2p?: boolean
  /**
   * Serve held chunks to peers. Never done on `navigator.connection.saveData` or a
   * cellular connection, whatever this says.
   * @default true
   */
  upload?: boolean
  /**
   * Upload cap in bytes per second across all peers; 0 means no cap.
   * @default 0
   */
  uploadBytesPerSecond?: number
  /**
   * Upload cap in bytes per second for each peer, within `uploadBytesPerSecond`; 0 means
   * none. Whatever it says, one peer gets each chunk at most twice and at most 8 of its
   * requests served at once (the rest are answered ABSENT).
   * @default 0
   */
  peerUploadBytesPerSecond?: number
  /**
   * `'required'`: no tracker socket and no RTCPeerConnection until the page calls
   * `cdn.consent(true)`; content still loads from edges and the origin meanwhile.
   * @default 'granted'
   */
  consent?: 'granted' | 'required'
  /**
   * Most bytes of chunks kept in IndexedDB. Lowered at start to fit what
   * `navigator.storage.estimate()` says is free; least recently used resources are
   * evicted first, across sessions.
   * @default 268435456 (256 MiB)
   */
  cacheBytes?: number
  /**
   * WebRTC ICE servers. Host candidates suffice on one network; add STUN for the internet.
   * @default []
   */
  iceServers?: IceServer[]
  /**
   * How long a fetch's later chunks wait, in milliseconds, for peers to connect and say
   * what they hold before they use HTTP. A fetch's first chunk never waits (it goes to a
   * connected peer that has it, else HTTP at once), so a one-chunk resource never does.
   * Only waited when the tracker says the swarm has other peers, and cut short once every
   * peer that can connect has sent its HAVEs and no connection attempt is fresh.
   * @default 2000
   */
  peerWaitMs?: number
  /**
   * A connection to a peer (one we answered, an answer being connected) holds a fetch
   * back only this long, in milliseconds, after its last sign of life; likewise the
   * tracker's first announce reply. Our offers nobody answered hold it 750 ms at most, so
   * peer ids that never connect (fakes on the tracker) cost a fetch at most that.
   * @default 1500
   */
  peerConnectMs?: number
  /**
   * A peer that sends nothing for this long, in milliseconds, loses the request; the
   * bytes it already sent are kept and the rest comes from another source. Peers also
   * have shorter deadlines (first bytes, a throughput floor, the whole chunk: see
   * `chunk-fetcher.ts`); one that misses two is not asked again in the session.
   * @default 4000
   */
  peerTimeoutMs?: number
  /**
   * Timeout of one HTTP request to an edge or the origin, in milliseconds.
   * @default 15000
   */
  httpTimeoutMs?: number
  /**
   * A failing edge is set aside for this long, in milliseconds, before it is tried again.
   * @default 30000
   */
  edgeRetryMs?: number
  /**
   * Chunks requested from peers at once, across all fetches.
   * @default 6
   */
  peerConcurrency?: number
  /**
   * Chunk requests over HTTP at once, across all fetches.
   * @default 4
   */
  httpConcurrency?: number
  /**
   * Chunks one `fetch()` reads ahead of the one being delivered.
   * @default 8
   */
  parallelChunks?: number
  /**
   * A player's segment needed within this many milliseconds goes to HTTP at once unless
   * a connected peer holds it; segments needed later wait for peers that hold or are
   * fetching them (see `chunk-fetcher.ts`). Larger: fewer stalls on slow peers, less P2P.
   * @default 3000
   */
  urgentWindowMs?: number
  /**
   * Keep chunks in IndexedDB across page loads; `false` keeps them in memory only.
   * @default true
   */
  persist?: boolean
  /**
   * Name prefix of the IndexedDB databases. Tabs of one site share them, so a second tab
   * reads what the first stored; give each tab its own name to make tabs peers instead.
   * @default 'p2pcdn'
   */
  storeName?: string
  /**
   * Where to find a manifest next to the resource: this suffix is appended to the
   * resource URL (e.g. `'.p2pcdn.json'`), fetched from the origin. Without `manifestKey`
   * it is asked only when no edge gives one; with `manifestKey` it is asked first (a
   * sidecar signed at the origin, `p2pcdn manifest --sign`, holds even against a
   * compromised edge) and edges only when it is missing or does not verify. Only the
   * operator sets it; a manifest never comes from peers.
   * @default undefined (edges only)
   */
  manifestSuffix?: string
  /**
   * How often, in milliseconds, the SDK sends the tracker a summary of what it fetched
   * (bytes by source, why bytes came over HTTP, WebRTC connection failures; URLs without
   * their query), for the operator's `/dashboard`; also once when the page goes away.
   * Only over the tracker socket, so never before consent. 0 sends none.
   * @default 30000
   */
  statsIntervalMs?: number
}

export interface ClientConfig {
  tracker: string | undefined
  swarm: string
  region: string | undefined
  edges: string[]
  /** Exact origins, `scheme://*.domain[:port]` patterns, or '*'. */
  edgeOrigins: string[]
  manifestKey: string[]
  maxPeers: number
  p2p: boolean
  upload: boolean
  uploadBytesPerSecond: number
  peerUploadBytesPerSecond: number
  consent: 'granted' | 'required'
  cacheBytes: number
  iceServers: IceServer[]
  peerWaitMs: number
  peerConnectMs: number
  peerTimeoutMs: number
  httpTimeoutMs: number
  edgeRetryMs: number
  peerConcurrency: number
  httpConcurrency: number
  parallelChunks: number
  urgentWindowMs: number
  persist: boolean
  storeName: string
  manifestSuffix: string | undefined
  statsIntervalMs: number
}

export const DEFAULT_CLIENT_CONFIG: Omit<
  ClientConfig,
  'tracker' | 'swarm' | 'region' | 'manifestSuffix' | 'edgeOrigins'
> = {
  edges: [],
  manifestKey: [],
  maxPeers: 8,
  p2p: true,
  upload: true,
  uploadBytesPerSecond: 0,
  peerUploadBytesPerSecond: 0,
  consent: 'granted',
  cacheBytes: 256 * 1024 * 1024,
  iceServers: [],
  peerWaitMs: 2000,
  peerConnectMs: 1500,
  peerTimeoutMs: 4000,
  httpTimeoutMs: 15_000,
  edgeRetryMs: 30_000,
  peerConcurrency: 6,
  httpConcurrency: 4,
  parallelChunks: 8,
  urgentWindowMs: 3000,
  persist: true,
  storeName: 'p2pcdn',
  statsIntervalMs: 30_000
}

const COUNTS = [
  'maxPeers',
  'uploadBytesPerSecond',
  'peerUploadBytesPerSecond',
  'cacheBytes',
  'peerWaitMs',
  'peerConnectMs',
  'peerTimeoutMs',
  'httpTimeoutMs',
  'edgeRetryMs',
  'peerConcurrency',
  'httpConcurrency',
  'parallelChunks',
  'urgentWindowMs',
  'statsIntervalMs'
] as const
const AT_LEAST_ONE = ['peerConcurrency', 'httpConcurrency', 'parallelChunks'] as const

function fail(name: string, must: string, value: unknown): never {
  throw new TypeError(`P2PCDN option ${name} must be ${must}, got ${String(value)}`)
}

/**
 * The origin of the script that is running this module, read once at load: for the
 * script-tag build, the edge that served the SDK (it already runs code on the page).
 */
const SCRIPT_ORIGIN = originOf(
  (globalThis as { document?: { currentScript?: { src?: string } | null } }).document?.currentScript?.src
)

function originOf(url: string | undefined): string | undefined {
  if (url === undefined || url === '') return undefined
  try {
    const origin = new URL(url).origin
    return origin === 'null' ? undefined : origin
  } catch {
    return undefined
  }
}

const ORIGIN_PATTERN = /^(https?):\/\/(\*\.)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?\/?$/i

/** An `edgeOrigins` entry, normalised: '*', an exact origin, or `scheme://*.domain[:port]`. */
function parseEdgeOrigin(entry: unknown): string {
  if (entry === '*') return entry
  const m = typeof entry === 'string' ? ORIGIN_PATTERN.exec(entry) : null
  if (m === null)
    fail('edgeOrigins', "origins like 'https://eu1.cdn.example' or 'https://*.cdn.example', or '*'", entry)
  if (m[2] === undefined) return new URL(entry as string).origin
  const port = m[4] ?? ''
  return `${m[1]!.toLowerCase()}://*.${m[3]!.toLowerCase()}${port === (m[1]!.toLowerCase() === 'https' ? ':443' : ':80') ? '' : port}`
}

/** True when an edge at `url` is inside `origins` (as resolved by `resolveConfig`). */
export function edgeAllowed(origins: readonly string[], url: string): boolean {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return false
  }
  for (const o of origins) {
    if (o === '*' || o === u.origin) return true
    const star = o.indexOf('://*.')
    if (star === -1) continue
    const scheme = o.slice(0, star + 1)
    const rest = o.slice(star + 5)
    const colon = rest.lastIndexOf(':')
    const domain = colon === -1 || rest.endsWith(']') ? rest : rest.slice(0, colon)
    const port = colon === -1 || rest.endsWith(']') ? '' : rest.slice(colon + 1)
    if (u.protocol === scheme && u.port === port && u.hostname.endsWith(`.${domain}`)) return true
  }
  return false
}

/** The shortest `statsIntervalMs`: the tracker refuses a socket's reports sooner than 1 s apart. */
const MIN_STATS_INTERVAL_MS = 5000

/** Defaults filled in and every option checked; a bad option throws a TypeError naming it. */
export function resolveConfig(init: ClientInit = {}): ClientConfig {
  const config: ClientConfig = {
    tracker: undefined,
    swarm: (globalThis as { location?: { host: string } }).location?.host ?? 'default',
    region: undefined,
    manifestSuffix: undefined,
    ...DEFAULT_CLIENT_CONFIG,
    ...dropUndefined(init),
    manifestKey: typeof init.manifestKey === 'string' ? [init.manifestKey] : (init.manifestKey ?? []),
    edgeOrigins: []
  }
  if (config.tracker !== undefined && !/^wss?:\/\//.test(config.tracker))
    fail('tracker', 'a ws:// or wss:// URL', config.tracker)
  if (!Array.isArray(config.edges)) fail('edges', 'an array of URLs', config.edges)
  for (const edge of config.edges) {
    if (!/^https?:\/\//.test(edge)) fail('edges', 'http(s) URLs', edge)
  }
  for (const name of COUNTS) {
    const value = config[name]
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      fail(name, 'a non-negative integer', value)
  }
  for (const name of AT_LEAST_ONE) if (config[name] < 1) fail(name, 'at least 1', config[name])
  // The tracker refuses reports closer together than a second.
  if (config.statsIntervalMs > 0 && config.statsIntervalMs < MIN_STATS_INTERVAL_MS)
    fail('statsIntervalMs', `0 (off) or at least ${MIN_STATS_INTERVAL_MS}`, config.statsIntervalMs)
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a script tag or a JavaScript caller may pass anything
  if (config.consent !== 'granted' && config.consent !== 'required')
    fail('consent', "'granted' or 'required'", config.consent)
  for (const name of ['p2p', 'upload', 'persist'] as const) {
    if (typeof config[name] !== 'boolean') fail(name, 'a boolean', config[name])
  }
  config.edges = config.edges.map(e => e.replace(/\/+$/, ''))
  if (!Array.isArray(config.manifestKey))
    fail('manifestKey', 'a base64url Ed25519 public key or an array of them', config.manifestKey)
  for (const key of config.manifestKey) {
    if (typeof key !== 'string' || parseManifestPublicKey(key) === undefined)
      fail('manifestKey', 'base64url Ed25519 public keys (43 chars, from p2pcdn keygen)', key)
  }
  if (init.edgeOrigins !== undefined && !Array.isArray(init.edgeOrigins))
    fail('edgeOrigins', 'an array of origins', init.edgeOrigins)
  config.edgeOrigins = init.edgeOrigins?.map(parseEdgeOrigin) ?? defaultEdgeOrigins(config)
  if (
    config.manifestSuffix !== undefined &&
    (typeof config.manifestSuffix !== 'string' || config.manifestSuffix === '')
  )
    fail('manifestSuffix', 'a non-empty string', config.manifestSuffix)
  return config
}

/**
 * With a manifest key any edge may be asked: what it says must verify. Without one, a
 * manifest is believed for where it came from, so only places the operator named count:
 * the configured edges, the page's own origin, and the origin that served the SDK.
 */
function defaultEdgeOrigins(config: ClientConfig): string[] {
  if (config.manifestKey.length > 0) return ['*']
  const page = originOf((globalThis as { location?: { href: string } }).location?.href)
  const origins = [...config.edges.map(originOf), page, SCRIPT_ORIGIN].filter(o => o !== undefined)
  return [...new Set(origins)]
}
