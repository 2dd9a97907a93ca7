import type { ErrorCode } from '../../protocol/src/index.js'

/** Where a chunk's bytes came from. */
export type Source = 'cache' | 'peer' | 'edge' | 'origin'

export type BytesBySource = Record<Source, number>

export interface ClientStats {
  /** Content bytes received, by source (a chunk finished over HTTP after a stalled peer counts on both). */
  bytes: BytesBySource
  /** Bytes sent to peers. */
  uploaded: number
  /** Share of network bytes that came from peers: peer / (peer + edge + origin); 0 before any. */
  offload: number
  /** This page's peer id in the swarm (hex), as other pages see it in their `peers`. */
  peerId: string | undefined
  /** Connected peers. */
  peers: Array<{ id: string; region: string }>
  /** This page's region (configured, else the nearest edge's). */
  region: string | undefined
  /** Base URL of the edge a fetch would use first (nearest usable one). */
  edge: string | undefined
  /** Bytes by source for each fetched URL. */
  resources: Record<string, BytesBySource>
  /** Where chunks are kept: IndexedDB, or memory when IndexedDB is unavailable. */
  storage: 'indexeddb' | 'memory' | undefined
  /** Bytes of verified chunks held in storage, and the limit they are kept under. */
  cache: { bytes: number; limitBytes: number }
  /** Per player stream (the name its integration was given): segment bytes by source, P2P share, stalls. */
  streams: Record<string, StreamStats>
}

/** What one player's stream got, as `cdn.stats().streams[name]` shows it. */
export interface StreamStats {
  /** Segment bytes by source (playlists and manifests are not counted here). */
  bytes: BytesBySource
  /** Share of the segment bytes from the network that came from peers; 0 before any. */
  offload: number
  /** Segments delivered. */
  segments: number
  /** Times playback stopped for want of data (seeks excluded), and how long in all. */
  stalls: number
  stalledMs: number
  /** Milliseconds from `watchPlayback` to the first frame playing; undefined before. */
  startupMs: number | undefined
}

/** Typed events of `cdn.on(name, listener)`. */
export interface ClientEvents {
  /** A verified chunk was delivered; `ms` from asking to verified, `peer` when one sent it. */
  chunk: { url: string; index: number; source: Source; bytes: number; ms: number; peer?: string; stream?: string }
  /** A player's playback stalled for `ms` (it is counted in `stats().streams[stream]`). */
  stall: { stream: string; ms: number }
  /** Bytes of a `fetch()` body handed to the page so far, of `total`. */
  progress: { url: string; loaded: number; total: number }
  peer: { id: string; region: string; connected: boolean }
  /**
   * Something went wrong and the SDK recovered (a bad peer, a failing edge, a tracker
   * refusal); `code` is stable (an ErrorCode), and so is `reason` of an ERR_TRACKER.
   */
  error: { code: ErrorCode; message: string; peer?: string; url?: string; reason?: string }
  /** IndexedDB was unavailable and chunks are kept in memory. */
  storage: { kind: 'memory'; reason: string }
}

export function emptyBytes(): BytesBySource {
  return { cache: 0, peer: 0, edge: 0, origin: 0 }
}
