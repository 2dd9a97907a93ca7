import type { TrackerMessage } from '../../protocol/src/index.js'
import type { AnswerCredits, Bucket } from './budget.js'

/** What all sockets of one client address share: the per-address budget and caps. */
export interface AddressState {
  /** The address as counted: IPv4, or the /64 prefix of an IPv6 address. */
  readonly key: string
  /** Open sockets from this address, for `maxConnectionsPerIp`. */
  connections: number
  /** Messages this address may still send (`messagesPerSecondPerIp`, `messageBurstPerIp`). */
  readonly bucket: Bucket
}

/**
 * What handlers know about one WebSocket: enough to reply and to clean up, nothing of the
 * socket itself. The server keeps one per socket in a `Map<WebSocket, Connection>`.
 */
export interface Connection {
  /** Sequence number for logs. */
  readonly id: number
  /** Client address: the socket's, or the last `X-Forwarded-For` entry with `trustProxy`. */
  readonly ip: string
  /** Region from the region rules (CIDR, country, continent), which win over what the client says; undefined when unmapped. */
  readonly mappedRegion: string | undefined
  /** Autonomous system number of `ip` (GeoIP ASN database), when known. */
  readonly asn: number | undefined
  /**
   * The swarms this socket announced in: info_hash → the peer id it used there, or a set
   * when it used several (bittorrent-tracker clients in one page share one socket, each
   * with its own peer id). A bare string in the usual case saves a Set per membership.
   */
  readonly swarms: Map<string, PeerIds>
  /** Region of the latest announce; the default for `p2pcdn:edges`. */
  region: string | undefined
  /** Rate limit: messages this socket may still send now (`messagesPerSecond`, `messageBurst`). */
  readonly bucket: Bucket
  /** The budget and caps this socket shares with every other socket of its address. */
  readonly address: AddressState
  /** Answers this socket may relay for free: one per offer forwarded to it lately. */
  readonly answerCredits: AnswerCredits
  /** Already told that it is over its rate limit, until its bucket refills. */
  throttled: boolean
  /**
   * Its unsent data has been over the socket's write buffer for a while (it reads slower
   * than we write): not offered to other peers until it catches up, dropped if it does not.
   */
  readonly backlogged: boolean
  /** Serialise and send if the socket is still open; otherwise drop the message. */
  send: (message: TrackerMessage) => void
  /** Send ready-made JSON text (the announce hot path builds replies by concatenation). */
  sendText: (text: string) => void
}

/** One peer id, or several. */
export type PeerIds = string | Set<string>

/** Most peer ids one socket may use in one swarm (a page with several clients sharing a socket). */
export const MAX_PEER_IDS_PER_SOCKET_SWARM = 8

export function peerIdCount(ids: PeerIds): number {
  return typeof ids === 'string' ? 1 : ids.size
}

export function hasPeerId(ids: PeerIds, peerId: string): boolean {
  return typeof ids === 'string' ? ids === peerId : ids.has(peerId)
}

export function listPeerIds(ids: PeerIds): Iterable<string> {
  return typeof ids === 'string' ? [ids] : ids
}

/** Record that `conn` uses `peerId` in `infoHash`. */
export function rememberPeer(conn: Connection, infoHash: string, peerId: string): void {
  const ids = conn.swarms.get(infoHash)
  if (ids === undefined) conn.swarms.set(infoHash, peerId)
  else if (typeof ids === 'string') {
    if (ids !== peerId) conn.swarms.set(infoHash, new Set([ids, peerId]))
  } else ids.add(peerId)
}

/** Record that `conn` no longer uses `peerId` in `infoHash`. */
export function forgetPeer(conn: Connection, infoHash: string, peerId: string): void {
  const ids = conn.swarms.get(infoHash)
  if (ids === undefined) return
  if (typeof ids === 'string') {
    if (ids === peerId) conn.swarms.delete(infoHash)
    return
  }
  ids.delete(peerId)
  if (ids.size === 1) conn.swarms.set(infoHash, ids.values().next().value!)
  else if (ids.size === 0) conn.swarms.delete(infoHash)
}

/** A socket that keeps up with what it is sent; only those are offered to other peers. */
export function isReading(conn: Connection): boolean {
  return !conn.backlogged
}
