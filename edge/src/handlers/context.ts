/** What every request handler gets: config, collaborators and the counters it bumps. */
import type { Logger } from '../../../protocol/src/index.js'
import type { CacheStore } from '../cache/store.js'
import type { EdgeConfig } from '../config.js'
import type { Filler } from '../filler.js'
import type { OriginClient } from '../origin.js'

/** Counters behind `Edge.stats()`. */
export interface EdgeCounters {
  /** Content requests answered from a fresh cache entry without contacting the origin. */
  hits: number
  /** Content requests that needed the origin (fill, revalidation or pass-through). */
  misses: number
  /** Requests the edge sent to the origin. */
  originRequests: number
  /** Response body bytes sent to clients. */
  bytesServed: number
}

export interface HandlerContext {
  config: EdgeConfig
  store: CacheStore
  filler: Filler
  origin: OriginClient
  counters: EdgeCounters
  log: Logger
}
