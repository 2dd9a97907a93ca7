/**
 * The p2pcdn tracker: a WebTorrent WebSocket tracker (any `bittorrent-tracker` client can
 * use it) with regions, an edge registry, and JSON endpoints on the same port.
 *
 * @example
 * ```ts
 * const tracker = createTracker({ port: 0, edgeToken: 'secret' })
 * await tracker.start()
 * console.log(tracker.url) // ws://127.0.0.1:54321
 * await tracker.stop()
 * ```
 */
import { resolveConfig } from './config.js'
import type { TrackerInit } from './config.js'
import { TrackerServer } from './server.js'
import type { Tracker } from './server.js'

export function createTracker(init: TrackerInit = {}): Tracker {
  return new TrackerServer(resolveConfig(init))
}

export { DEFAULT_TRACKER_CONFIG, resolveConfig } from './config.js'
export type { TrackerConfig, TrackerInit } from './config.js'
export type { Tracker } from './server.js'
export type { SwarmStats, TrackerStats } from './handlers/http.js'
export { parseRegionMap } from './region-map.js'
export type { RegionMap, RegionMapInit } from './region-map.js'
