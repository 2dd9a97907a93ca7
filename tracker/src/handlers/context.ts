import type { Logger } from '../../../protocol/src/index.js'
import type { TrackerConfig } from '../config.js'
import type { Connection } from '../connection.js'
import type { EdgeRegistry } from '../edge-registry.js'
import { scopeLogger } from '../log.js'
import type { Swarms } from '../swarm.js'

/** Everything a handler may touch. Built once per tracker by the server. */
export interface TrackerContext {
  readonly config: TrackerConfig
  readonly swarms: Swarms<Connection>
  readonly edges: EdgeRegistry<Connection>
  readonly log: Readonly<Record<'server' | 'announce' | 'signal' | 'edges' | 'http', Logger>>
  /** Milliseconds since the epoch; a function so edge expiry can be tested without sleeping. */
  readonly now: () => number
}

/** One logger per tracker module, each tagged with its namespace. */
export function createLoggers (logger: Logger): TrackerContext['log'] {
  return {
    server: scopeLogger(logger, 'p2pcdn:tracker:server'),
    announce: scopeLogger(logger, 'p2pcdn:tracker:announce'),
    signal: scopeLogger(logger, 'p2pcdn:tracker:signal'),
    edges: scopeLogger(logger, 'p2pcdn:tracker:edges'),
    http: scopeLogger(logger, 'p2pcdn:tracker:http')
  }
}
