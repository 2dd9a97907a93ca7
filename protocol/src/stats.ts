/**
 * Fleet statistics: the small summary each SDK sends its tracker (`p2pcdn:stats`) of what
 * it fetched since its last report, and why bytes came over HTTP. Every figure is
 * self-reported by a browser: the tracker bounds and clamps it, and cannot prove it.
 */
import { InvalidMessageError } from './errors.js'

/** Where content bytes came from: own storage, a peer, an edge, the origin. */
export type ByteSource = 'cache' | 'peer' | 'edge' | 'origin'

export const BYTE_SOURCES: readonly ByteSource[] = ['cache', 'peer', 'edge', 'origin']

export type SourceBytes = Record<ByteSource, number>

/**
 * Why bytes came over HTTP (edge or origin) rather than from a peer:
 * - `no-peer`: no connected peer had the chunk (or had room for a request);
 * - `deadline`: a player needed the segment within the urgent window (`urgentWindowMs`);
 * - `peer-slow`: the peer asked missed a deadline (stalled, too slow, choked);
 * - `peer-error`: the peer asked failed otherwise (ABSENT, channel closed);
 * - `peer-integrity`: the peer asked sent bytes that did not verify;
 * - `p2p-off`: P2P is off (`p2p: false`), or the visitor has not consented;
 * - `no-manifest`: the resource has no trusted manifest (private, not cacheable, no edge,
 *   a playlist fetched with `fetchFromEdge`): peers never carry it.
 */
export type HttpReason =
  'no-peer' | 'deadline' | 'peer-slow' | 'peer-error' | 'peer-integrity' | 'p2p-off' | 'no-manifest'

export const HTTP_REASONS: readonly HttpReason[] = [
  'no-peer',
  'deadline',
  'peer-slow',
  'peer-error',
  'peer-integrity',
  'p2p-off',
  'no-manifest'
]

export type ReasonBytes = Record<HttpReason, number>

/** One resource's bytes in a report. */
export interface ResourceBytes {
  url: string
  bytes: SourceBytes
}

/**
 * What one SDK fetched since its previous report. `http` splits the edge and origin
 * bytes by reason; `resources` are the biggest resources (at most MAX_STATS_RESOURCES),
 * the rest of `bytes` is "other".
 */
export interface StatsReport {
  action: 'p2pcdn:stats'
  v: number
  /** The SDK's swarm name (`swarm` option). */
  swarm?: string
  /** The SDK's region as it knows it; the tracker's own mapping wins. */
  region?: string
  bytes: SourceBytes
  http: ReasonBytes
  /** WebRTC connections to peers attempted, and those that never connected. */
  connections: { attempted: number; failed: number }
  resources: ResourceBytes[]
}

/** Most resources one report lists; the SDK folds the rest into "other". */
export const MAX_STATS_RESOURCES = 20
/** A tracker takes one report per socket at most this often; a client sends no faster. */
export const MIN_STATS_GAP_MS = 1000
/** Most characters of a resource URL in a report (the SDK drops query and fragment, then cuts). */
export const MAX_STATS_URL_CHARS = 256
/** Most characters of a swarm or region name in a report. */
export const MAX_STATS_NAME_CHARS = 64
/**
 * Largest report, in characters: 20 resources of 256-character URLs with four 16-digit
 * counts each stay under 8 KiB; twice that leaves room for escapes.
 */
export const MAX_STATS_MESSAGE_BYTES = 16 * 1024
/**
 * Largest single figure: 1 PB. A real report holds what one tab fetched in 30 s; this
 * only keeps sums of figures exact (far below 2^53) whatever a client sends.
 */
export const MAX_STATS_FIGURE = 1e15
/** Most connection attempts one report may claim: a tab holds 8 connections by default. */
export const MAX_STATS_CONNECTIONS = 10_000

export function emptySourceBytes(): SourceBytes {
  return { cache: 0, peer: 0, edge: 0, origin: 0 }
}

export function emptyReasonBytes(): ReasonBytes {
  return {
    'no-peer': 0,
    deadline: 0,
    'peer-slow': 0,
    'peer-error': 0,
    'peer-integrity': 0,
    'p2p-off': 0,
    'no-manifest': 0
  }
}

type Obj = Record<string, unknown>

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A whole, non-negative number of at most `max`; absent is 0. */
function figure(obj: Obj, key: string, field: string, max = MAX_STATS_FIGURE): number {
  const value = obj[key]
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    throw new InvalidMessageError(`invalid ${field}: expected a whole number from 0 to ${max}`)
  return value
}

function figures<K extends string>(value: unknown, keys: readonly K[], field: string): Record<K, number> {
  if (!isObject(value)) throw new InvalidMessageError(`invalid ${field}: expected an object`)
  const out = {} as Record<K, number>
  for (const key of keys) out[key] = figure(value, key, `${field}.${key}`)
  return out
}

function name(msg: Obj, field: string): string | undefined {
  const value = msg[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_STATS_NAME_CHARS)
    throw new InvalidMessageError(
      `invalid ${field}: expected a non-empty string of at most ${MAX_STATS_NAME_CHARS} characters`
    )
  return value
}

function sum(values: Record<string, number>): number {
  let n = 0
  for (const v of Object.values(values)) n += v
  return n
}

/**
 * The fields of a `p2pcdn:stats` message (`v` already read). Strict: every figure a whole
 * number in range, resources' bytes within the totals, HTTP reasons within the HTTP bytes,
 * failed connections within attempted ones.
 */
export function parseStatsReport(msg: Obj, v: number, rawLength: number): StatsReport {
  if (rawLength > MAX_STATS_MESSAGE_BYTES)
    throw new InvalidMessageError(`stats report longer than ${MAX_STATS_MESSAGE_BYTES} characters`)
  const bytes = figures(msg.bytes, BYTE_SOURCES, 'bytes')
  const http = figures(msg.http ?? {}, HTTP_REASONS, 'http')
  if (sum(http) > bytes.edge + bytes.origin)
    throw new InvalidMessageError('invalid http: more bytes by reason than bytes.edge + bytes.origin')
  const conns = msg.connections ?? {}
  if (!isObject(conns)) throw new InvalidMessageError('invalid connections: expected an object')
  const attempted = figure(conns, 'attempted', 'connections.attempted', MAX_STATS_CONNECTIONS)
  const failed = figure(conns, 'failed', 'connections.failed', MAX_STATS_CONNECTIONS)
  if (failed > attempted) throw new InvalidMessageError('invalid connections.failed: more than attempted')
  const list = msg.resources ?? []
  if (!Array.isArray(list) || list.length > MAX_STATS_RESOURCES)
    throw new InvalidMessageError(`invalid resources: expected an array of at most ${MAX_STATS_RESOURCES}`)
  const seen = new Set<string>()
  const listed = emptySourceBytes()
  const resources = list.map((entry: unknown, i): ResourceBytes => {
    if (!isObject(entry)) throw new InvalidMessageError(`invalid resources[${i}]: expected an object`)
    const url = entry.url
    if (typeof url !== 'string' || url.length === 0 || url.length > MAX_STATS_URL_CHARS)
      throw new InvalidMessageError(
        `invalid resources[${i}].url: expected a non-empty string of at most ${MAX_STATS_URL_CHARS} characters`
      )
    if (seen.has(url)) throw new InvalidMessageError(`invalid resources[${i}].url: listed twice`)
    seen.add(url)
    const b = figures(entry.bytes, BYTE_SOURCES, `resources[${i}].bytes`)
    for (const s of BYTE_SOURCES) listed[s] += b[s]
    return { url, bytes: b }
  })
  for (const s of BYTE_SOURCES)
    if (listed[s] > bytes[s]) throw new InvalidMessageError(`invalid resources: more ${s} bytes than bytes.${s}`)
  const report: StatsReport = {
    action: 'p2pcdn:stats',
    v,
    bytes,
    http,
    connections: { attempted, failed },
    resources
  }
  const swarm = name(msg, 'swarm')
  if (swarm !== undefined) report.swarm = swarm
  const region = name(msg, 'region')
  if (region !== undefined) report.region = region
  return report
}
