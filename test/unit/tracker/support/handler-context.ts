/**
 * The tracker's handlers without a server or sockets: a real TrackerContext (swarms, edge
 * registry, metrics) around fake connections that record what they are sent, a settable
 * clock, a recording logger, and a scriptable fake Cluster. For unit tests that pin down
 * the handlers' exact replies, counters and log lines (see test/MUTATION.md).
 */
import { randomBytes } from 'node:crypto'
import type { EdgeInfo, LogFields, Logger, TrackerMessage } from '../../../../protocol/src/index.js'
import { AnswerCredits, createBucket } from '../../../../tracker/src/budget.js'
import type { Cluster, ClusterPeer } from '../../../../tracker/src/cluster.js'
import { DEFAULT_TRACKER_CONFIG } from '../../../../tracker/src/config.js'
import type { TrackerConfig } from '../../../../tracker/src/config.js'
import type { AddressState, Connection, PeerIds } from '../../../../tracker/src/connection.js'
import type { EdgeChallenger } from '../../../../tracker/src/edge-challenge.js'
import { EdgeRegistry } from '../../../../tracker/src/edge-registry.js'
import { announceReplyHead, createLoggers } from '../../../../tracker/src/handlers/context.js'
import type { TrackerContext } from '../../../../tracker/src/handlers/context.js'
import { TrackerMetrics } from '../../../../tracker/src/metrics.js'
import { FleetStats } from '../../../../tracker/src/fleet-stats.js'
import { StatsBudgets } from '../../../../tracker/src/stats-budgets.js'
import { Swarms } from '../../../../tracker/src/swarm.js'

export interface LogLine {
  level: keyof Logger
  event: string
  fields: LogFields | undefined
}

export interface FakeConnection extends Connection {
  /** Every message sent, text ones parsed. */
  readonly sent: Array<Record<string, unknown>>
  /** Every text sent, as sent. */
  readonly texts: string[]
  backlogged: boolean
}

export interface FakeCluster extends Cluster {
  readonly calls: Array<[string, ...unknown[]]>
  /** What `peerUpdated` resolves to (default true). */
  updated: boolean | Promise<boolean>
  clusterCounts: { complete: number; incomplete: number } | Promise<never>
  peers: ClusterPeer[] | Promise<never>
  located: string | undefined | Promise<never>
  clusterEdges: EdgeInfo[] | Promise<never>
}

export interface Harness {
  ctx: TrackerContext
  config: TrackerConfig
  logs: LogLine[]
  clock: { now: number }
  /** A new connection from `ip` (a fresh address state unless `address` is shared). */
  connect: (init?: { ip?: string; address?: AddressState; mappedRegion?: string; asn?: number }) => FakeConnection
  challenger: { result: Promise<void> | undefined; calls: Array<[string, string | undefined, Buffer]> }
}

export const binaryId = (): string => randomBytes(20).toString('latin1')

export function createHarness(overrides: Partial<TrackerConfig> = {}, cluster?: FakeCluster): Harness {
  const config: TrackerConfig = { ...DEFAULT_TRACKER_CONFIG, ...overrides }
  const logs: LogLine[] = []
  const record =
    (level: keyof Logger) =>
    (event: string, fields?: LogFields): void => {
      logs.push({ level, event, fields })
    }
  const logger: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') }
  const clock = { now: 1_000_000 }
  const challenger: Harness['challenger'] = { result: undefined, calls: [] }
  const edgeChallenger: EdgeChallenger = {
    check: (url, id, key) => {
      challenger.calls.push([url, id, key])
      return challenger.result ?? Promise.resolve()
    },
    inFlight: 0
  }
  const ctx: TrackerContext = {
    config,
    swarms: new Swarms<Connection>(config.maxPeersPerSwarm, config.maxPeerIdsPerIpPerSwarm),
    edges: new EdgeRegistry<Connection>(3 * config.edgeHeartbeatMs, config.maxEdgesPerId),
    edgeChallenger,
    metrics: new TrackerMetrics(),
    fleet: new FleetStats({ maxResources: config.maxStatsResources, now: () => clock.now }),
    statsBudgets: new StatsBudgets(),
    cluster,
    announceReplyHead: announceReplyHead(config),
    log: createLoggers(logger),
    now: () => clock.now
  }
  let nextId = 1
  const connect: Harness['connect'] = (init = {}) => {
    const ip = init.ip ?? `10.0.0.${nextId}`
    const address = init.address ?? {
      key: ip,
      connections: 1,
      bucket: createBucket(config.messageBurstPerIp, clock.now)
    }
    const sent: Array<Record<string, unknown>> = []
    const texts: string[] = []
    const conn: FakeConnection = {
      id: nextId++,
      ip,
      mappedRegion: init.mappedRegion,
      asn: init.asn,
      swarms: new Map<string, PeerIds>(),
      region: undefined,
      bucket: createBucket(config.messageBurst, clock.now),
      address,
      answerCredits: new AnswerCredits(),
      throttled: false,
      backlogged: false,
      sent,
      texts,
      send: (message: TrackerMessage) => {
        const text = JSON.stringify(message)
        texts.push(text)
        sent.push(JSON.parse(text) as Record<string, unknown>)
      },
      sendText: (text: string) => {
        texts.push(text)
        sent.push(JSON.parse(text) as Record<string, unknown>)
      }
    }
    return conn
  }
  return { ctx, config, logs, clock, connect, challenger }
}

export function createFakeCluster(nodeId = 'node-a'): FakeCluster {
  const calls: FakeCluster['calls'] = []
  const cluster: FakeCluster = {
    nodeId,
    calls,
    updated: true,
    clusterCounts: { complete: 0, incomplete: 0 },
    peers: [],
    located: undefined,
    clusterEdges: [],
    start: async () => {},
    stop: async () => {},
    peerUpdated: (...args) => {
      calls.push(['peerUpdated', ...args])
      return Promise.resolve(cluster.updated)
    },
    peerLeft: async (...args) => {
      calls.push(['peerLeft', ...args])
      await Promise.resolve()
    },
    counts: async (...args) => {
      calls.push(['counts', ...args])
      return await cluster.clusterCounts
    },
    remotePeers: () => 0,
    choosePeers: async (...args) => {
      calls.push(['choosePeers', ...args])
      return await cluster.peers
    },
    locate: async (...args) => {
      calls.push(['locate', ...args])
      return await cluster.located
    },
    relay: (...args) => {
      calls.push(['relay', ...args])
    },
    edgeUpdated: (...args) => {
      calls.push(['edgeUpdated', ...args])
    },
    edgeRemoved: (...args) => {
      calls.push(['edgeRemoved', ...args])
    },
    edges: async () => {
      calls.push(['edges'])
      return await cluster.clusterEdges
    },
    publishFleet: () => {
      calls.push(['publishFleet'])
    },
    fleet: () => Promise.resolve({ snapshots: [], unreadable: 0 })
  }
  return cluster
}

/** Send `message` (JSON-encoded) through handleMessage's entry point. */
export function frame(message: unknown): Buffer {
  return Buffer.from(typeof message === 'string' ? message : JSON.stringify(message))
}

/** Let promise callbacks (cluster calls, challenges) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>(resolve => setImmediate(resolve))
}
