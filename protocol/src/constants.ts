/** Version of the p2pcdn additions to the tracker protocol and of the peer wire protocol. */
export const PROTOCOL_VERSION = 1

/** Manifest format version (`v` in the manifest JSON). */
export const MANIFEST_VERSION = 1

/** Default size of one chunk: 256 KiB. */
export const DEFAULT_CHUNK_SIZE_BYTES = 256 * 1024

/**
 * Largest tracker message we accept. Signalling messages carry a few KiB of SDP; an
 * announce with a handful of offers stays well under this.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024

/** Largest peer wire frame. Chromium's SCTP stack is happiest below 64 KiB per message. */
export const MAX_FRAME_BYTES = 64 * 1024 - 1

/** Bytes of chunk payload carried by one DATA frame (frame header included stays < MAX_FRAME_BYTES). */
export const DATA_FRAME_PAYLOAD_BYTES = 60 * 1024

/** WebTorrent ids (`info_hash`, `peer_id`, `offer_id`) are 20-character binary strings. */
export const WEBTORRENT_ID_LENGTH = 20

/** Length in bytes of a resource id (SHA-256 of the manifest). */
export const RESOURCE_ID_BYTES = 32

/** Default interval clients re-announce at, in seconds. */
export const DEFAULT_ANNOUNCE_INTERVAL_S = 120

/** Paths the edge serves besides the proxied origin. */
export const EDGE_PATHS = {
  ping: '/_p2pcdn/ping',
  manifest: '/_p2pcdn/manifest',
  sdk: '/p2pcdn.js',
  healthz: '/healthz',
  /** Prometheus text exposition. */
  metrics: '/metrics',
  /** `POST` with a bearer token: drop a URL or a prefix from the edge's cache. */
  purge: '/_p2pcdn/purge'
} as const
