/** Version of the p2pcdn additions to the tracker protocol. */
export const PROTOCOL_VERSION = 1

/**
 * Version of the peer wire protocol, in every HANDSHAKE; peers of other versions drop
 * each other at once. 2 added FETCHING (type 17), which a version 1 peer would take for
 * garbage mid-session.
 */
export const WIRE_VERSION = 2

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

/**
 * Requests one peer may have in flight to another. The server answers ABSENT to any
 * beyond it, so a requester keeps under it: it bounds the chunks one peer can make
 * another hold in memory for sending.
 */
export const MAX_REQUESTS_IN_FLIGHT = 8

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
  /** The service worker the site's own worker file imports (`importScripts`). */
  serviceWorker: '/p2pcdn-sw.js',
  healthz: '/healthz',
  /** Prometheus text exposition. */
  metrics: '/metrics',
  /** `POST` with a bearer token: drop a URL or a prefix from the edge's cache. */
  purge: '/_p2pcdn/purge',
  /** `GET ?nonce=N`: the tracker's reachability check, answered with an HMAC of the nonce. */
  challenge: '/_p2pcdn/challenge'
} as const

/**
 * What the edge MACs to answer a challenge: `${EDGE_CHALLENGE_CONTEXT}\n${id}\n${nonce}`
 * (id empty for a shared-token edge), HMAC-SHA256 keyed with the SHA-256 of the edge's
 * secret (or of the shared token), base64url. The context string keeps the MAC from
 * meaning anything anywhere else.
 */
export const EDGE_CHALLENGE_CONTEXT = 'p2pcdn-edge-challenge:v1'

/** Most characters of an edge id. */
export const MAX_EDGE_ID_CHARS = 64
const EDGE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
export const EDGE_ID_RULE = `1-${MAX_EDGE_ID_CHARS} characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)`

/** An edge id as the tracker's edges file and `p2pcdn:edge-register` allow. */
export function isEdgeId(value: unknown): value is string {
  return typeof value === 'string' && EDGE_ID_PATTERN.test(value)
}

/*
 * Manifest bounds. Everyone uses these: `parseManifest`, the edge's config and manifest
 * building, `p2pcdn manifest`, the SDK's capped read. A manifest outside them is not
 * built, not served and not accepted (ERR_INVALID_MANIFEST), because the SDK sizes what
 * it allocates by the manifest: a forged one must not make a tab hold gigabytes.
 */

/** Smallest chunk: below 1 KiB the 46 bytes a chunk costs in the manifest outweigh it. */
export const MIN_CHUNK_SIZE_BYTES = 1024

/** Largest chunk: one chunk is held whole in memory by the SDK, and above 16 MiB it no longer fits peer transfer well. */
export const MAX_CHUNK_SIZE_BYTES = 16 * 1024 * 1024

/**
 * Most chunks in one manifest: 16 GiB at the default 256 KiB chunks, 1 TiB at 16 MiB,
 * and a manifest of at most about 3 MiB. A bigger resource needs a bigger chunk size or
 * is served without a manifest (from the edge and the origin, never from peers).
 */
export const MAX_MANIFEST_CHUNKS = 65_536

/** Largest resource a manifest can describe: MAX_MANIFEST_CHUNKS × MAX_CHUNK_SIZE_BYTES = 1 TiB. */
export const MAX_MANIFEST_RESOURCE_BYTES = MAX_MANIFEST_CHUNKS * MAX_CHUNK_SIZE_BYTES

/** Most characters of a manifest's `url` (UTF-16 code units, as JavaScript counts). */
export const MAX_MANIFEST_URL_CHARS = 8192

/** Most characters of a manifest's `type` (a media type with its parameters). */
export const MAX_MANIFEST_TYPE_CHARS = 256

/** Most characters of a manifest's `etag` (an ETag, or a Last-Modified date). */
export const MAX_MANIFEST_ETAG_CHARS = 512

/** Signatures a manifest may carry: enough for a key rotation or two, bounded for parsing. */
export const MAX_MANIFEST_SIGNATURES = 8

/**
 * Largest manifest as served, in bytes (and characters: the SDK caps its read at this
 * and `parseManifest` refuses a longer string before JSON.parse):
 *
 *   46 × chunks           each `"<43 base64url>",`
 * + 6 × (url + type + etag chars)   a character escapes to at most 6 bytes (`\u001f`)
 * + 120 × signatures     each `{"keyId":"<11>","sig":"<86>"},` is 119
 * + 256                  the rest: keys, `v`, `hash`, size (13 digits) and chunkSize (8)
 *
 * = 46 × 65,536 + 6 × 8,960 + 120 × 8 + 256 = 3,069,632 bytes (2.93 MiB).
 */
export const MAX_MANIFEST_BYTES =
  46 * MAX_MANIFEST_CHUNKS +
  6 * (MAX_MANIFEST_URL_CHARS + MAX_MANIFEST_TYPE_CHARS + MAX_MANIFEST_ETAG_CHARS) +
  120 * MAX_MANIFEST_SIGNATURES +
  256
