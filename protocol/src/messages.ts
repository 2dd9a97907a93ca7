/**
 * Tracker messages: the WebTorrent WebSocket tracker protocol (as spoken by
 * `bittorrent-tracker`) plus optional p2pcdn fields and `p2pcdn:`-prefixed actions that
 * other clients never send and ignore.
 *
 * `info_hash`, `peer_id` and `offer_id` are 20-character binary strings (each char 0-255).
 */
import type { StatsReport } from './stats.js'

export interface SessionDescription {
  type: 'offer' | 'answer'
  sdp: string
}

export interface OfferEntry {
  offer: SessionDescription
  offer_id: string
}

/** `paused` is sent by WebTorrent for paused torrents; bittorrent-tracker treats it like an update. */
export type AnnounceEvent = 'started' | 'stopped' | 'completed' | 'update' | 'paused'

/** A peer joins, refreshes or leaves a swarm, optionally carrying offers for other peers. */
export interface AnnounceRequest {
  action: 'announce'
  info_hash: string
  peer_id: string
  event?: AnnounceEvent
  numwant?: number
  uploaded?: number
  downloaded?: number
  left?: number
  offers?: OfferEntry[]
  /** p2pcdn: the announcing peer's region. */
  region?: string
}

/** An answer to an offer this peer received, relayed to `to_peer_id`. Sent with action `announce`. */
export interface AnswerRequest {
  action: 'announce'
  info_hash: string
  peer_id: string
  to_peer_id: string
  offer_id: string
  answer: SessionDescription
}

export interface ScrapeRequest {
  action: 'scrape'
  info_hash: string[]
}

/**
 * An edge registers itself. With `id`, `token` is that edge's own secret (the tracker's
 * edges file lists the id); without, it is the tracker's shared edge token.
 */
export interface EdgeRegisterRequest {
  action: 'p2pcdn:edge-register'
  v: number
  /** The edge's identity on the tracker, as listed in the tracker's edges file. */
  id?: string
  token: string
  /** Public base URL of the edge, e.g. `https://eu1.cdn.example`. */
  url: string
  region: string
  /** Bytes per second the edge can serve; 0 = unknown. */
  capacity: number
}

/** An edge's load as it reports it, and as the tracker keeps it. */
export interface EdgeLoad {
  connections: number
  bytesPerSec: number
  hitRatio: number
}

/** A registered edge reports its load. Also serves as its heartbeat. */
export interface EdgeLoadRequest extends EdgeLoad {
  action: 'p2pcdn:edge-load'
  v: number
}

/** A client asks for the healthy edges, nearest `region` first. */
export interface EdgesRequest {
  action: 'p2pcdn:edges'
  v: number
  region?: string
}

export type ClientMessage =
  AnnounceRequest | AnswerRequest | ScrapeRequest | EdgeRegisterRequest | EdgeLoadRequest | EdgesRequest | StatsReport

/** The tracker's reply to an announce. */
export interface AnnounceResponse {
  action: 'announce'
  info_hash: string
  interval: number
  'min interval'?: number
  complete: number
  incomplete: number
}

/** An offer from `peer_id`, forwarded to this peer. */
export interface OfferForward {
  action: 'announce'
  info_hash: string
  peer_id: string
  offer_id: string
  offer: SessionDescription
  /** p2pcdn: the offering peer's region. */
  region?: string
}

/** An answer from `peer_id` to one of this peer's offers. */
export interface AnswerForward {
  action: 'announce'
  info_hash: string
  peer_id: string
  offer_id: string
  answer: SessionDescription
  /** p2pcdn: the answering peer's region. */
  region?: string
}

export interface ScrapeResponse {
  action: 'scrape'
  files: Record<string, { complete: number; incomplete: number; downloaded: number }>
}

/**
 * Why the tracker refused a request, as `reason` of a failure: stable, for programs to
 * branch on (the `failure reason` is prose, for people and logs).
 */
export type RefusalReason =
  | 'invalid-message'
  | 'rate-limited'
  | 'rate-limited-ip'
  | 'peer-id-taken'
  | 'too-many-peer-ids'
  | 'not-in-swarm'
  | 'swarm-full'
  | 'too-many-swarms'
  | 'too-many-connections'
  | 'edge-refused'
  /** An edge's load report on a connection with no registered edge (dropped for late heartbeats): register again. */
  | 'edge-not-registered'
  /** A stats report sooner than the tracker accepts after the previous one on this connection. */
  | 'stats-too-often'

/** A request failed; the socket stays open. `code` and `reason` are p2pcdn additions. */
export interface FailureResponse {
  'failure reason': string
  action?: string
  info_hash?: string
  /** An ErrorCode: ERR_PROTOCOL for a refusal, ERR_INVALID_MESSAGE for a malformed request. */
  code?: string
  /** A RefusalReason from a p2pcdn tracker; any string from others. */
  reason?: string
}

export interface EdgeInfo {
  url: string
  region: string
  capacity: number
  connections: number
  bytesPerSec: number
  hitRatio: number
}

export interface EdgesResponse {
  action: 'p2pcdn:edges'
  v: number
  edges: EdgeInfo[]
}

export interface EdgeRegisteredResponse {
  action: 'p2pcdn:edge-registered'
  v: number
  /** How often the edge must report load, in milliseconds, to stay registered. */
  heartbeatMs: number
}

export type TrackerMessage =
  | AnnounceResponse
  | OfferForward
  | AnswerForward
  | ScrapeResponse
  | FailureResponse
  | EdgesResponse
  | EdgeRegisteredResponse
