import { DEFAULT_ANNOUNCE_INTERVAL_S, silentLogger } from '../../protocol/src/index.js'
import type { Logger } from '../../protocol/src/index.js'

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
   * Shared secret edges must present in `p2pcdn:edge-register`. When absent, edge
   * registration is refused.
   * @default undefined
   */
  edgeToken?: string
  /**
   * Interval clients should re-announce at, in seconds (the `interval` of announce replies).
   * @default 120
   */
  announceIntervalS?: number
  /**
   * How often an edge must report its load, in milliseconds. An edge silent for three
   * times this is dropped from the edge list.
   * @default 10_000
   */
  edgeHeartbeatMs?: number
  /**
   * Most offers of one announce forwarded to other peers; extra offers are ignored.
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
   * Where log lines go.
   * @default silentLogger
   */
  logger?: Logger
}

/** `TrackerInit` with every default applied. */
export interface TrackerConfig {
  port: number
  host: string
  edgeToken: string | undefined
  announceIntervalS: number
  edgeHeartbeatMs: number
  maxOffersPerAnnounce: number
  pingIntervalMs: number
  logger: Logger
}

export const DEFAULT_TRACKER_CONFIG: TrackerConfig = {
  port: 8000,
  host: '127.0.0.1',
  edgeToken: undefined,
  announceIntervalS: DEFAULT_ANNOUNCE_INTERVAL_S,
  edgeHeartbeatMs: 10_000,
  maxOffersPerAnnounce: 10,
  pingIntervalMs: 30_000,
  logger: silentLogger
}

/** An edge that has not reported for this many heartbeats is dropped. */
export const EDGE_MISSED_HEARTBEATS = 3

/**
 * Apply defaults to `init` and validate it.
 * @throws TypeError naming the first bad option
 */
export function resolveConfig (init: TrackerInit = {}): TrackerConfig {
  const config: TrackerConfig = { ...DEFAULT_TRACKER_CONFIG, ...dropUndefined(init) }
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65_535) {
    throw new TypeError(`Invalid option "port": expected an integer from 0 to 65535, got ${String(config.port)}`)
  }
  if (typeof config.host !== 'string' || config.host === '') {
    throw new TypeError('Invalid option "host": expected a non-empty string')
  }
  if (config.edgeToken !== undefined && (typeof config.edgeToken !== 'string' || config.edgeToken === '')) {
    throw new TypeError('Invalid option "edgeToken": expected a non-empty string')
  }
  positiveInteger(config, 'announceIntervalS')
  positiveInteger(config, 'edgeHeartbeatMs')
  positiveInteger(config, 'maxOffersPerAnnounce')
  positiveInteger(config, 'pingIntervalMs')
  if (!isLogger(config.logger)) {
    throw new TypeError('Invalid option "logger": expected an object with debug, info, warn and error functions')
  }
  return config
}

function positiveInteger (config: TrackerConfig, name: 'announceIntervalS' | 'edgeHeartbeatMs' | 'maxOffersPerAnnounce' | 'pingIntervalMs'): void {
  const value = config[name]
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`Invalid option "${name}": expected a positive integer, got ${String(value)}`)
  }
}

function isLogger (value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const methods = value as Record<string, unknown>
  return ['debug', 'info', 'warn', 'error'].every(level => typeof methods[level] === 'function')
}

/** So that `{ port: undefined }` keeps the default instead of wiping it out. */
function dropUndefined<T extends object> (obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, value]) => value !== undefined)) as Partial<T>
}
