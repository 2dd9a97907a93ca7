/**
 * What a tracker process needs from its peers in a cluster. One implementation,
 * `RedisCluster`; without `--redis` there is no cluster and everything stays in memory.
 */
import type { EdgeInfo } from '../../protocol/src/index.js'
import type { FleetSnapshot } from './fleet-stats.js'

/** A peer as the cluster knows it: which process holds its socket. */
export interface ClusterPeer {
  nodeId: string
  /** 20-character binary string. */
  peerId: string
}

/** Delivers relayed text to the local socket of `peerId` in `infoHash`; false if it is gone. */
export type DeliverFn = (infoHash: string, peerId: string, text: string) => boolean

/**
 * This process no longer holds `peerId` in `infoHash`: another live process took the id
 * while this one was not seen (stalled longer than the TTL). Drop the local peer.
 */
export type LostFn = (infoHash: string, peerId: string) => void

export interface Cluster {
  /** This process's id; peers it holds carry it in the shared state. */
  readonly nodeId: string
  start: (deliver: DeliverFn, lost: LostFn) => Promise<void>
  /** Stop refreshing, remove this process's peers and edges, and disconnect. */
  stop: () => Promise<void>
  /**
   * A local peer joined or changed (region, seeding). A peer id new to this process is
   * first claimed cluster-wide: false when a live peer of another process holds it.
   * `asn` is its network (GeoIP), when known. Plain `true` when nothing changed: the
   * caller can answer without waiting.
   */
  peerUpdated: (
    infoHash: string,
    peerId: string,
    region: string,
    complete: boolean,
    asn: number | undefined
  ) => boolean | Promise<boolean>
  /** A local peer left. Resolves (never rejects) once Redis has it, so a reply after it can free the id. */
  peerLeft: (infoHash: string, peerId: string, region: string) => Promise<void>
  /** Cluster-wide counts of `infoHash`: this process's exact, the others' up to a second old. */
  counts: (
    infoHash: string
  ) => { complete: number; incomplete: number } | Promise<{ complete: number; incomplete: number }>
  /**
   * Peers of `infoHash` on other processes as last counted (0 if never), without a
   * round trip: what the swarm cap adds to the local swarm's size.
   */
  remotePeers: (infoHash: string) => number
  /**
   * Up to `count` peers of `infoHash` other than `exceptPeerId`, from any process: those of
   * `region` on network `asn` (when known) first, then the rest of `region`, then
   * `neighbours` in order, then any. Without a promise when cached samples suffice, as
   * they do for most announces.
   */
  choosePeers: (
    infoHash: string,
    exceptPeerId: string,
    region: string,
    neighbours: readonly string[],
    count: number,
    asn: number | undefined
  ) => ClusterPeer[] | Promise<ClusterPeer[]>
  /** Which process holds `peerId` in `infoHash`, if any. */
  locate: (infoHash: string, peerId: string) => Promise<string | undefined>
  /** Hand `text` to process `nodeId` for its local peer `peerId`. */
  relay: (nodeId: string, infoHash: string, peerId: string, text: string) => void
  /** Publish (or refresh) an edge for every process; it expires unless refreshed. */
  edgeUpdated: (edge: EdgeInfo) => void
  edgeRemoved: (url: string) => void
  /** Every healthy edge of the cluster, unordered. */
  edges: () => Promise<EdgeInfo[]>
  /** Store this process's fleet figures for the others; they expire unless stored again. */
  publishFleet: (snapshot: FleetSnapshot) => void
  /** The fleet figures of the other live processes, and how many could not be read. */
  fleet: () => Promise<{ snapshots: FleetSnapshot[]; unreadable: number }>
}
