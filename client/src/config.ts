/** Options of `P2PCDN.create()`. Everything but `tracker` is optional. */
export interface ClientInit {
  /**
   * WebSocket URL of the tracker, e.g. `wss://tracker.example`. Without it the SDK uses
   * only `edges` and the origin.
   */
  tracker?: string
  /**
   * Swarm name: peers in one swarm share one data channel per pair for every resource.
   * @default location.host
   */
  swarm?: string
  /** Force the region instead of taking the fastest edge's. */
  region?: string
  /** Edge base URLs to use besides (or without) the tracker's list. */
  edges?: string[]
  /**
   * Most peers connected at once.
   * @default 8
   */
  maxPeers?: number
  /**
   * Serve held chunks to peers.
   * @default true
   */
  upload?: boolean
  /**
   * Use peers at all. `false` means edge and origin only.
   * @default true
   */
  p2p?: boolean
  /**
   * WebRTC ICE servers. Host candidates suffice on one network; add STUN for the internet.
   * @default []
   */
  iceServers?: RTCIceServer[]
  /**
   * How long a fetch waits for a connected peer that holds the resource before it uses
   * HTTP, in milliseconds. Only waited when the tracker says the swarm has other peers.
   * @default 2000
   */
  peerWaitMs?: number
  /**
   * A peer that sends nothing for this long loses the request to another source, in ms.
   * @default 4000
   */
  peerTimeoutMs?: number
  /**
   * Timeout of one HTTP request to an edge or the origin, in milliseconds.
   * @default 15000
   */
  httpTimeoutMs?: number
  /**
   * Chunks fetched at once per `fetch()`.
   * @default 4
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
}

export interface ClientConfig {
  tracker: string | undefined
  swarm: string
  region: string | undefined
  edges: string[]
  maxPeers: number
  upload: boolean
  p2p: boolean
  iceServers: RTCIceServer[]
  peerWaitMs: number
  peerTimeoutMs: number
  httpTimeoutMs: number
  parallelChunks: number
  persist: boolean
  storeName: string
}

export const DEFAULT_CLIENT_CONFIG: Omit<ClientConfig, 'tracker' | 'swarm' | 'region'> = {
  edges: [],
  maxPeers: 8,
  upload: true,
  p2p: true,
  iceServers: [],
  peerWaitMs: 2000,
  peerTimeoutMs: 4000,
  httpTimeoutMs: 15_000,
  parallelChunks: 4,
  persist: true,
  storeName: 'p2pcdn'
}

function defined<T extends object> (obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>
}

function positiveInt (config: ClientConfig, name: keyof ClientConfig): void {
  const value = config[name]
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new TypeError(`P2PCDN option ${name} must be a non-negative integer, got ${String(value)}`)
  }
}

export function resolveConfig (init: ClientInit = {}): ClientConfig {
  const config: ClientConfig = {
    tracker: undefined,
    swarm: typeof location === 'undefined' ? 'default' : location.host,
    region: undefined,
    ...DEFAULT_CLIENT_CONFIG,
    ...defined(init)
  }
  if (config.tracker !== undefined && !/^wss?:\/\//.test(config.tracker)) {
    throw new TypeError(`P2PCDN option tracker must be a ws:// or wss:// URL, got ${config.tracker}`)
  }
  for (const edge of config.edges) {
    if (!/^https?:\/\//.test(edge)) throw new TypeError(`P2PCDN option edges must hold http(s) URLs, got ${edge}`)
  }
  for (const name of ['maxPeers', 'peerWaitMs', 'peerTimeoutMs', 'httpTimeoutMs', 'parallelChunks'] as const) positiveInt(config, name)
  if (config.parallelChunks < 1) throw new TypeError('P2PCDN option parallelChunks must be at least 1')
  config.edges = config.edges.map(e => e.replace(/\/+$/, ''))
  return config
}
