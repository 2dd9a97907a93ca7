import type { Logger } from '../../../protocol/src/index.js'
import type { Cluster } from '../cluster.js'
import type { TrackerConfig } from '../config.js'
import type { Connection } from '../connection.js'
import type { EdgeChallenger } from '../edge-challenge.js'
import type { EdgeRegistry } from '../edge-registry.js'
import type { FleetStats } from '../fleet-stats.js'
import { scopeLogger } from '../../../service/src/log.js'
import type { TrackerMetrics } from '../metrics.js'
import type { Swarms } from '../swarm.js'
import type { StatsBudgets } from '../stats-budgets.js'

/** Everything a handler may touch. Built once per tracker by the server. */
export interface TrackerContext {
  readonly config: TrackerConfig
  readonly swarms: Swarms<Connection>
  readonly edges: EdgeRegistry<Connection>
  /** Reachability checks of registering edges, bounded in number. */
  readonly edgeChallenger: EdgeChallenger
  readonly metrics: TrackerMetrics
  /** What this process's visitors reported (`p2pcdn:stats`). */
  readonly fleet: FleetStats
  /** Per-socket and per-address budgets that clamp those reports. */
  readonly statsBudgets: StatsBudgets
  /** Set in cluster mode (`redisUrl`): swarms and edges shared with other processes. */
  readonly cluster: Cluster | undefined
  /** `{"action":"announce","interval":N,"min interval":M,"info_hash":` — the constant head of every announce reply. */
  readonly announceReplyHead: string
  readonly log: Readonly<Record<'server' | 'edges' | 'http' | 'cluster', Logger>>
  /** Milliseconds since the epoch; a function so edge expiry can be tested without sleeping. */
  readonly now: () => number
}

/** One logger per tracker module, each tagged with its namespace. */
export function createLoggers(logger: Logger): TrackerContext['log'] {
  return {
    server: scopeLogger(logger, 'p2pcdn:tracker:server'),
    edges: scopeLogger(logger, 'p2pcdn:tracker:edges'),
    http: scopeLogger(logger, 'p2pcdn:tracker:http'),
    cluster: scopeLogger(logger, 'p2pcdn:tracker:cluster')
  }
}

/** The announce reply head for `config`, built once. */
export function announceReplyHead(config: TrackerConfig): string {
  return `{"action":"announce","interval":${config.announceIntervalS},"min interval":${config.minAnnounceIntervalS},"info_hash":`
}
