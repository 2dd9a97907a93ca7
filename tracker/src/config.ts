import { DEFAULT_ANNOUNCE_INTERVAL_S, dropUndefined, silentLogger, systemNow } from '../../protocol/src/index.js'
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
import { parseEdgeIdentities } from './edge-identities.js'
import type { EdgeIdentities, EdgeIdentityInit } from './edge-identities.js'
import { GeoIp, GeoIpDatabase, openGeoIpDatabase } from './geoip.js'
import type { GeoIpKind } from './geoip.js'
import { parseRegionMap } from './region-map.js'
import type { RegionMap, RegionMapInit } from './region-map.js'

/** What callers pass to `createTracker`. Every option is optional. */
export interface TrackerInit {
  /**
   * TCP port for WebSocket and HTTP. 0 picks any free port; read `tracker.port` after `start()`.
   * @default 8000
   */
  port?: number
  /**
   * Interface to listen on.
   * @default '127.0.0.1'
   */
  host?: string
  /**
   * Shared secret edges must present in `p2pcdn:edge-register`: the simple mode for one
   * operator, which trusts every holder of the token with any URL. With `edges` it is
   * refused unless `allowSharedEdgeToken`. With neither, edge registration is refused.
   * @default undefined
   */
  edgeToken?: string
  /**
   * Per-edge identities (the `edges` of `--edges-file`): each edge registers with its id
   * and its own secret, and may claim only its listed URLs.
   * @default undefined
   */
  edges?: EdgeIdentityInit[]
  /**
   * With `edges`, also accept registrations with the shared `edgeToken` (on purpose: both
   * modes at once, e.g. while moving edges to their own secrets). Such an edge still
   * cannot claim a URL listed for an edge in `edges`.
   * @default false
   */
  allowSharedEdgeToken?: boolean
  /**
   * Before listing an edge, fetch `GET {url}/_p2pcdn/challenge?nonce=N` from the URL it
   * claims and check the HMAC it answers with; an edge that fails is refused.
   * @default true with `edges`, false with only `edgeToken`
   */
  edgeChallenge?: boolean
  /**
   * Deadline for one reachability challenge (connect, head and body), in milliseconds.
   * @default 5000
   */
  edgeChallengeTimeoutMs?: number
  /**
   * Most reachability challenges in flight at once; registrations beyond are refused
   * (the edge retries with backoff).
   * @default 16
   */
  maxConcurrentEdgeChallenges?: number
  /**
   * Most connections one edge id may be registered on at once. A further registration of
   * the id is refused; the live ones are never evicted.
   * @default 1
   */
  maxEdgesPerId?: number
  /**
   * Interval clients should re-announce at, in seconds (the `interval` of announce replies).
   * @default 120
   */
  announceIntervalS?: number
  /**
   * `min interval` of announce replies, in seconds: clients should not re-announce sooner
   * unless they need peers (WebTorrent clients send offers whenever they want more).
   * @default 30
   */
  minAnnounceIntervalS?: number
  /**
   * How often an edge must report its load, in milliseconds. An edge silent for three
   * times this is dropped from the edge list.
   * @default 10_000
   */
  edgeHeartbeatMs?: number
  /**
   * Most offers of one announce forwarded to other peers; extra offers are ignored (and a
   * `warning message` says so).
   * @default 10
   */
  maxOffersPerAnnounce?: number
  /**
   * How often every socket is pinged, in milliseconds. A socket that has not answered the
   * previous ping by the next one is terminated (and its peers leave their swarms).
   * @default 30_000
   */
  pingIntervalMs?: number
  /**
   * Most peers in one swarm. Further `started` announces are refused with a failure
   * reply; live peers are never evicted to make room.
   * @default 20_000
   */
  maxPeersPerSwarm?: number
  /**
   * Most swarms one socket may be in at once.
   * @default 100
   */
  maxSwarmsPerSocket?: number
  /**
   * Most open WebSockets from one IP address (the `X-Forwarded-For` one with `trustProxy`;
   * IPv6 addresses count by their /64 prefix). Connections beyond are closed with code 1008.
   * @default 1000
   */
  maxConnectionsPerIp?: number
  /**
   * Messages one socket may send per second, on average. Beyond, messages are dropped
   * and the socket gets one failure reply per burst.
   * @default 20
   */
  messagesPerSecond?: number
  /**
   * Messages one socket may send back to back before `messagesPerSecond` applies. The
   * next `messageBurst` beyond the rate are still served, with a `warning message`; only
   * then are messages refused. Answers to offers the tracker forwarded to the socket in
   * the last 50 s are free (one per offer), so a seeder answering a crowd is never throttled.
   * @default 60
   */
  messageBurst?: number
  /**
   * Messages all sockets of one address may send per second together, on average (IPv6
   * addresses count by their /64 prefix). Checked on top of the per-socket budget, so 200
   * sockets from one address cannot take 200 times one socket's share. A registered edge
   * past it is held to its own per-socket budget only.
   * @default 100
   */
  messagesPerSecondPerIp?: number
  /**
   * Messages one address may send back to back before `messagesPerSecondPerIp` applies;
   * as with `messageBurst`, as many again are served with a warning before refusals.
   * @default 300
   */
  messageBurstPerIp?: number
  /**
   * Most peer ids one address (IPv6: one /64) may hold in one swarm; further `started`
   * announces from it are refused. Enough for an office behind one NAT; stops one host
   * from filling a swarm with fake peers that take offers and never connect.
   * @default 32
   */
  maxPeerIdsPerIpPerSwarm?: number
  /**
   * Most unsent bytes one socket may hold in the tracker (`ws.bufferedAmount`: its stream
   * buffer, what the per-turn write coalescing holds, ws's queue). A socket over it reads
   * slower than it is written to and is dropped. One over its write buffer's high-water
   * mark is not offered to other peers until it drains, and is dropped if it does not
   * drain within `pingIntervalMs`.
   * @default 1_048_576
   */
  maxBufferedBytes?: number
  /**
   * Most unsent bytes all backlogged sockets together may hold; beyond, the sockets with
   * the largest backlogs are dropped until the total fits.
   * @default 67_108_864
   */
  maxBufferedBytesTotal?: number
  /**
   * Read the client address from the last `X-Forwarded-For` entry (the one our own
   * reverse proxy appended). Only set this behind a proxy you run.
   * @default false
   */
  trustProxy?: boolean
  /**
   * Region rules and neighbour regions: CIDR blocks, then (with `geoip`) countries, then
   * continents. A matching address decides the region of every peer of that socket;
   * otherwise the announce's `region`, else `default`.
   * @default { cidrs: {}, countries: {}, continents: {}, neighbours: {} }
   */
  regions?: RegionMapInit
  /**
   * A MaxMind DB with countries and continents (GeoLite2-Country or -City, GeoIP2, DB-IP
   * lite): the file's bytes, or one opened with `openGeoIpDatabase`. Applies the
   * `countries` and `continents` rules of `regions` to addresses no CIDR block holds.
   * @default undefined
   */
  geoip?: Buffer | GeoIpDatabase
  /**
   * A MaxMind DB with `autonomous_system_number` (GeoLite2-ASN). Offers go to peers of the
   * announcer's own network first, within its region.
   * @default undefined
   */
  geoipAsn?: Buffer | GeoIpDatabase
  /**
   * `redis://host:port`: share swarms and edges with other tracker processes through
   * Redis and relay signals between them. Without it, all state is in this process.
   * Several urls, comma-separated (`redis://a:7000,redis://b:7000`), are the seed nodes
   * of a Redis Cluster; one url of a node with `cluster_enabled:1` is one too.
   * @default undefined
   */
  redisUrl?: string
  /**
   * In cluster mode, how long a process's peers still count (and its peer ids stay
   * bound) after its last heartbeat, and an edge after its last report, in milliseconds.
   * Heartbeats go every third of it, one per process.
   * @default 30_000
   */
  clusterTtlMs?: number
  /**
   * Bytes one socket's stats reports may claim per second, on average, from the moment it
   * opened (at most 120 s of it at once): a report beyond is scaled down. 25 MB/s is a
   * 200 Mbit/s line kept busy by one tab.
   * @default 25_000_000
   */
  statsBytesPerSecond?: number
  /**
   * Bytes all sockets of one address (IPv6: one /64) may claim per second together, the
   * same way; what one host opening many sockets can add.
   * @default 250_000_000
   */
  statsBytesPerSecondPerIp?: number
  /**
   * Resources whose bytes are kept apart in the fleet statistics (least recently reported
   * out first, into "(other)"); `/dashboard` shows the biggest 50.
   * @default 1000
   */
  maxStatsResources?: number
  /**
   * Serve `/dashboard` and `/dashboard.json` to requests carrying this token (HTTP Basic
   * with it as password, or `Authorization: Bearer`). Without it they answer 404: the
   * figures name the operator's URLs and traffic.
   * @default undefined
   */
  dashboardToken?: string
  /**
   * PEM certificate chain and private key: serve `wss://` and HTTPS instead of `ws://` and
   * HTTP. Browsers on HTTPS pages refuse plain `ws://`, so a public tracker needs this or a
   * TLS-terminating proxy in front.
   * @default undefined
   */
  tls?: TlsOptions
  /**
   * On `stop()`, how long HTTP requests in flight may take to finish before their
   * connections are cut, in milliseconds. WebSockets are closed with 1001 meanwhile.
   * @default 5000
   */
  shutdownGraceMs?: number
  /**
   * Where log lines go.
   * @default silentLogger
   */
  logger?: Logger
  /**
   * The clock for expiry and rate budgets, in milliseconds since the epoch.
   * @default Date.now
   */
  now?: Now
}

/** `TrackerInit` with every default applied. */
export interface TrackerConfig {
  port: number
  host: string
  edgeToken: string | undefined
  /** Edges by id; empty without an edges file. */
  edges: EdgeIdentities
  allowSharedEdgeToken: boolean
  edgeChallenge: boolean
  edgeChallengeTimeoutMs: number
  maxConcurrentEdgeChallenges: number
  maxEdgesPerId: number
  announceIntervalS: number
  minAnnounceIntervalS: number
  edgeHeartbeatMs: number
  maxOffersPerAnnounce: number
  pingIntervalMs: number
  maxPeersPerSwarm: number
  maxSwarmsPerSocket: number
  maxConnectionsPerIp: number
  messagesPerSecond: number
  messageBurst: number
  messagesPerSecondPerIp: number
  messageBurstPerIp: number
  maxPeerIdsPerIpPerSwarm: number
  maxBufferedBytes: number
  maxBufferedBytesTotal: number
  trustProxy: boolean
  regions: RegionMap
  /** Lookups in the `geoip` and `geoipAsn` databases; knows nothing without them. */
  geoip: GeoIp
  redisUrl: string | undefined
  clusterTtlMs: number
  statsBytesPerSecond: number
  statsBytesPerSecondPerIp: number
  maxStatsResources: number
  dashboardToken: string | undefined
  tls: TlsOptions | undefined
  shutdownGraceMs: number
  logger: Logger
  now: Now
}

export const DEFAULT_TRACKER_CONFIG: TrackerConfig = {
  port: 8000,
  host: '127.0.0.1',
  edgeToken: undefined,
  edges: new Map(),
  allowSharedEdgeToken: false,
  edgeChallenge: false,
  edgeChallengeTimeoutMs: 5000,
  maxConcurrentEdgeChallenges: 16,
  maxEdgesPerId: 1,
  announceIntervalS: DEFAULT_ANNOUNCE_INTERVAL_S,
  minAnnounceIntervalS: 30,
  edgeHeartbeatMs: 10_000,
  maxOffersPerAnnounce: 10,
  pingIntervalMs: 30_000,
  maxPeersPerSwarm: 20_000,
  maxSwarmsPerSocket: 100,
  maxConnectionsPerIp: 1000,
  messagesPerSecond: 20,
  messageBurst: 60,
  messagesPerSecondPerIp: 100,
  messageBurstPerIp: 300,
  maxPeerIdsPerIpPerSwarm: 32,
  maxBufferedBytes: 1024 * 1024,
  maxBufferedBytesTotal: 64 * 1024 * 1024,
  trustProxy: false,
  regions: parseRegionMap({}),
  geoip: new GeoIp(),
  redisUrl: undefined,
  clusterTtlMs: 30_000,
  statsBytesPerSecond: 25_000_000,
  statsBytesPerSecondPerIp: 250_000_000,
  maxStatsResources: 1000,
  dashboardToken: undefined,
  tls: undefined,
  shutdownGraceMs: DEFAULT_SHUTDOWN_GRACE_MS,
  logger: silentLogger,
  now: systemNow
}

/** An edge that has not reported for this many heartbeats is dropped. */
export const EDGE_MISSED_HEARTBEATS = 3

type IntegerOption =
  | 'announceIntervalS'
  | 'minAnnounceIntervalS'
  | 'edgeHeartbeatMs'
  | 'maxOffersPerAnnounce'
  | 'pingIntervalMs'
  | 'maxPeersPerSwarm'
  | 'maxSwarmsPerSocket'
  | 'maxConnectionsPerIp'
  | 'messagesPerSecond'
  | 'messageBurst'
  | 'messagesPerSecondPerIp'
  | 'messageBurstPerIp'
  | 'maxPeerIdsPerIpPerSwarm'
  | 'maxBufferedBytes'
  | 'maxBufferedBytesTotal'
  | 'clusterTtlMs'
  | 'edgeChallengeTimeoutMs'
  | 'maxConcurrentEdgeChallenges'
  | 'maxEdgesPerId'
  | 'shutdownGraceMs'
  | 'statsBytesPerSecond'
  | 'statsBytesPerSecondPerIp'
  | 'maxStatsResources'

const INTEGER_OPTIONS: readonly IntegerOption[] = [
  'announceIntervalS',
  'minAnnounceIntervalS',
  'edgeHeartbeatMs',
  'maxOffersPerAnnounce',
  'pingIntervalMs',
  'maxPeersPerSwarm',
  'maxSwarmsPerSocket',
  'maxConnectionsPerIp',
  'messagesPerSecond',
  'messageBurst',
  'messagesPerSecondPerIp',
  'messageBurstPerIp',
  'maxPeerIdsPerIpPerSwarm',
  'maxBufferedBytes',
  'maxBufferedBytesTotal',
  'clusterTtlMs',
  'edgeChallengeTimeoutMs',
  'maxConcurrentEdgeChallenges',
  'maxEdgesPerId',
  'shutdownGraceMs',
  'statsBytesPerSecond',
  'statsBytesPerSecondPerIp',
  'maxStatsResources'
]

function geoIpDatabase(
  option: string,
  value: Buffer | GeoIpDatabase | undefined,
  kind: GeoIpKind
): GeoIpDatabase | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof GeoIpDatabase)) return openGeoIpDatabase(option, value, kind)
  if (value.kind !== kind) throw new OptionError(option, `expected a database opened for "${kind}"`)
  return value
}

/**
 * Apply defaults to `init` and validate it.
 * @throws TypeError naming the first bad option
 */
export function resolveConfig(init: TrackerInit = {}): TrackerConfig {
  const { regions, edges, geoip, geoipAsn, ...rest } = dropUndefined(init)
  const identities = edges === undefined ? DEFAULT_TRACKER_CONFIG.edges : parseEdgeIdentities(edges)
  const config: TrackerConfig = {
    ...DEFAULT_TRACKER_CONFIG,
    // The challenge needs a key per edge, which the edges file gives; opt in for the token.
    edgeChallenge: identities.size > 0,
    ...rest,
    regions: regions === undefined ? DEFAULT_TRACKER_CONFIG.regions : parseRegionMap(regions),
    geoip:
      geoip === undefined && geoipAsn === undefined
        ? DEFAULT_TRACKER_CONFIG.geoip
        : new GeoIp(geoIpDatabase('geoip', geoip, 'country'), geoIpDatabase('geoipAsn', geoipAsn, 'asn')),
    edges: identities
  }
  if (config.regions.hasGeoRules && config.geoip.country === undefined)
    throw new OptionError('regions', '"countries" and "continents" rules need a GeoIP country database ("geoip")')
  checkPort('port', config.port)
  checkNonEmptyString('host', config.host)
  if (config.edgeToken !== undefined) checkNonEmptyString('edgeToken', config.edgeToken)
  if (config.dashboardToken !== undefined) checkNonEmptyString('dashboardToken', config.dashboardToken)
  if (edges !== undefined && identities.size === 0) throw optionError('edges', 'at least one edge')
  for (const name of ['allowSharedEdgeToken', 'edgeChallenge', 'trustProxy'] as const) {
    if (typeof config[name] !== 'boolean') throw optionError(name, 'a boolean', config[name])
  }
  if (identities.size > 0 && config.edgeToken !== undefined && !config.allowSharedEdgeToken) {
    // Left over from before the edges file, the token would let any holder in with any
    // URL the file does not list: say so rather than quietly keep (or drop) it.
    throw new OptionError(
      'edgeToken',
      'with "edges" the shared token is refused; drop it, or set "allowSharedEdgeToken" to accept both'
    )
  }
  if (config.allowSharedEdgeToken && config.edgeToken === undefined)
    throw new OptionError('allowSharedEdgeToken', 'needs "edgeToken"')
  for (const name of INTEGER_OPTIONS) checkPositiveInteger(name, config[name])
  if (config.maxBufferedBytesTotal < config.maxBufferedBytes) {
    throw optionError(
      'maxBufferedBytesTotal',
      `at least maxBufferedBytes (${config.maxBufferedBytes})`,
      config.maxBufferedBytesTotal
    )
  }
  // The URL may carry a password: not echoed.
  if (config.redisUrl !== undefined && (typeof config.redisUrl !== 'string' || !isRedisUrlList(config.redisUrl)))
    throw optionError('redisUrl', 'redis://host:port, or several comma-separated for a Redis Cluster')
  if (config.tls !== undefined) checkTls('tls', config.tls)
  checkLogger('logger', config.logger)
  if (typeof config.now !== 'function') throw optionError('now', 'a function returning milliseconds')
  return config
}

/** `redis[s]://host[:port]`, one or several comma-separated (a Redis Cluster's seed nodes). */
function isRedisUrlList(text: string): boolean {
  return text.split(',').every(part => {
    if (!/^rediss?:\/\/./.test(part.trim())) return false
    try {
      const url = new URL(part.trim())
      return url.hostname !== '' && (url.port === '' || Number(url.port) > 0)
    } catch {
      return false
    }
  })
}
