/** An ICE server, as in `RTCConfiguration.iceServers` (spelled out so this module needs no DOM types). */
export interface IceServer { urls: string | string[], username?: string, credential?: string }

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
  /** Edge base URLs to use besides (or without) the tracker's list. */
  edges?: string[]
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
   * How long a fetch waits, in milliseconds, for connected peers to say what they hold
   * before it uses HTTP. Only waited when the tracker says the swarm has other peers, and
   * cut short once every connected peer has sent its HAVEs and no connection is pending.
   * @default 2000
   */
  peerWaitMs?: number
  /**
   * A peer that sends nothing for this long, in milliseconds, loses the request; the
   * bytes it already sent are kept and the rest comes from another source.
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
   * Where to find a manifest next to the resource when no edge gives one: this suffix is
   * appended to the resource URL (e.g. `'.p2pcdn.json'`). Only the operator sets it; a
   * manifest never comes from peers.
   * @default undefined (edges only)
   */
  manifestSuffix?: string
}

export interface ClientConfig {
  tracker: string | undefined
  swarm: string
  region: string | undefined
  edges: string[]
  maxPeers: number
  p2p: boolean
  upload: boolean
  uploadBytesPerSecond: number
  consent: 'granted' | 'required'
  cacheBytes: number
  iceServers: IceServer[]
  peerWaitMs: number
  peerTimeoutMs: number
  httpTimeoutMs: number
  edgeRetryMs: number
  peerConcurrency: number
  httpConcurrency: number
  parallelChunks: number
  persist: boolean
  storeName: string
  manifestSuffix: string | undefined
}

export const DEFAULT_CLIENT_CONFIG: Omit<ClientConfig, 'tracker' | 'swarm' | 'region' | 'manifestSuffix'> = {
  edges: [],
  maxPeers: 8,
  p2p: true,
  upload: true,
  uploadBytesPerSecond: 0,
  consent: 'granted',
  cacheBytes: 256 * 1024 * 1024,
  iceServers: [],
  peerWaitMs: 2000,
  peerTimeoutMs: 4000,
  httpTimeoutMs: 15_000,
  edgeRetryMs: 30_000,
  peerConcurrency: 6,
  httpConcurrency: 4,
  parallelChunks: 8,
  persist: true,
  storeName: 'p2pcdn'
}

const COUNTS = [
  'maxPeers', 'uploadBytesPerSecond', 'cacheBytes', 'peerWaitMs', 'peerTimeoutMs', 'httpTimeoutMs',
  'edgeRetryMs', 'peerConcurrency', 'httpConcurrency', 'parallelChunks'
] as const
const AT_LEAST_ONE = ['peerConcurrency', 'httpConcurrency', 'parallelChunks'] as const

function defined<T extends object> (obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>
}

function fail (name: string, must: string, value: unknown): never {
  throw new TypeError(`P2PCDN option ${name} must be ${must}, got ${String(value)}`)
}

/** Defaults filled in and every option checked; a bad option throws a TypeError naming it. */
export function resolveConfig (init: ClientInit = {}): ClientConfig {
  const config: ClientConfig = {
    tracker: undefined,
    swarm: (globalThis as { location?: { host: string } }).location?.host ?? 'default',
    region: undefined,
    manifestSuffix: undefined,
    ...DEFAULT_CLIENT_CONFIG,
    ...defined(init)
  }
  if (config.tracker !== undefined && !/^wss?:\/\//.test(config.tracker)) fail('tracker', 'a ws:// or wss:// URL', config.tracker)
  if (!Array.isArray(config.edges)) fail('edges', 'an array of URLs', config.edges)
  for (const edge of config.edges) {
    if (!/^https?:\/\//.test(edge)) fail('edges', 'http(s) URLs', edge)
  }
  for (const name of COUNTS) {
    const value = config[name]
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(name, 'a non-negative integer', value)
  }
  for (const name of AT_LEAST_ONE) if (config[name] < 1) fail(name, 'at least 1', config[name])
  if (config.consent !== 'granted' && config.consent !== 'required') fail('consent', "'granted' or 'required'", config.consent)
  for (const name of ['p2p', 'upload', 'persist'] as const) {
    if (typeof config[name] !== 'boolean') fail(name, 'a boolean', config[name])
  }
  config.edges = config.edges.map(e => e.replace(/\/+$/, ''))
  return config
}
