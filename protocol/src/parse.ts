/**
 * One parser per direction. Handlers only ever see what these return; anything else
 * becomes an `InvalidMessageError` naming the field. Unknown extra fields are dropped.
 */
import { EDGE_ID_RULE, MAX_MESSAGE_BYTES, WEBTORRENT_ID_LENGTH, PROTOCOL_VERSION, isEdgeId } from './constants.js'
import { InvalidMessageError } from './errors.js'
import { dropUndefined } from './object.js'
import { parseStatsReport } from './stats.js'
import type {
  AnnounceEvent,
  AnnounceRequest,
  ClientMessage,
  EdgeInfo,
  OfferEntry,
  SessionDescription,
  TrackerMessage
} from './messages.js'

type Obj = Record<string, unknown>

const ANNOUNCE_EVENTS: readonly string[] = ['started', 'stopped', 'completed', 'update', 'paused']
const MAX_OFFERS = 50
const MAX_SDP_CHARS = 16 * 1024
const MAX_SCRAPE_HASHES = 100
const MAX_TEXT_CHARS = 2048

function decode(raw: string): Obj {
  if (typeof raw !== 'string') throw new InvalidMessageError('message is not text')
  if (raw.length > MAX_MESSAGE_BYTES)
    throw new InvalidMessageError(`message longer than ${MAX_MESSAGE_BYTES} characters`)
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw new InvalidMessageError('message is not JSON')
  }
  if (!isObject(value)) throw new InvalidMessageError('message is not a JSON object')
  return value
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A WebTorrent id: exactly 20 chars, each a byte (0-255). */
export function isBinaryId(value: unknown): value is string {
  if (typeof value !== 'string' || value.length !== WEBTORRENT_ID_LENGTH) return false
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0xff) return false
  return true
}

function binaryId(msg: Obj, field: string): string {
  const value = msg[field]
  if (!isBinaryId(value))
    throw new InvalidMessageError(`invalid ${field}: expected a ${WEBTORRENT_ID_LENGTH}-character binary string`)
  return value
}

function text(msg: Obj, field: string, maxChars = MAX_TEXT_CHARS): string {
  const value = msg[field]
  if (typeof value !== 'string' || value.length === 0 || value.length > maxChars) {
    throw new InvalidMessageError(`invalid ${field}: expected a non-empty string of at most ${maxChars} characters`)
  }
  return value
}

function optionalText(msg: Obj, field: string): string | undefined {
  return msg[field] === undefined || msg[field] === null ? undefined : text(msg, field)
}

/**
 * WebTorrent clients send counters as numbers, numeric strings or `null` (JSON of
 * `Infinity`); bittorrent-tracker reads them with `Number()`. We do the same and treat
 * anything non-finite as absent.
 */
function optionalCount(msg: Obj, field: string): number | undefined {
  const value = msg[field]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' && typeof value !== 'string')
    throw new InvalidMessageError(`invalid ${field}: expected a number`)
  const n = Number(value)
  if (!Number.isFinite(n)) return undefined
  if (n < 0) throw new InvalidMessageError(`invalid ${field}: negative`)
  return n
}

function count(msg: Obj, field: string): number {
  const n = optionalCount(msg, field)
  if (n === undefined) throw new InvalidMessageError(`invalid ${field}: expected a number`)
  return n
}

function version(msg: Obj): number {
  const v = msg.v ?? PROTOCOL_VERSION
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
    throw new InvalidMessageError('invalid v: expected a protocol version')
  return v
}

function sessionDescription(value: unknown, field: string, type: 'offer' | 'answer'): SessionDescription {
  if (!isObject(value) || typeof value.sdp !== 'string' || value.sdp.length > MAX_SDP_CHARS) {
    throw new InvalidMessageError(
      `invalid ${field}: expected {type, sdp} with sdp of at most ${MAX_SDP_CHARS} characters`
    )
  }
  if (value.type !== undefined && value.type !== type)
    throw new InvalidMessageError(`invalid ${field}.type: expected "${type}"`)
  return { type, sdp: value.sdp }
}

function offers(msg: Obj): OfferEntry[] | undefined {
  const value = msg.offers
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value)) throw new InvalidMessageError('invalid offers: expected an array')
  if (value.length > MAX_OFFERS) throw new InvalidMessageError(`invalid offers: more than ${MAX_OFFERS}`)
  return value.map((entry: unknown, i) => {
    if (!isObject(entry)) throw new InvalidMessageError(`invalid offers[${i}]: expected an object`)
    return {
      offer: sessionDescription(entry.offer, `offers[${i}].offer`, 'offer'),
      offer_id: binaryId(entry, 'offer_id')
    }
  })
}

function announceEvent(msg: Obj): AnnounceEvent | undefined {
  const value = msg.event
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value !== 'string' || !ANNOUNCE_EVENTS.includes(value))
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- any JSON value, shown as it comes and cut short
    throw new InvalidMessageError(`invalid event: ${String(value).slice(0, 32)}`)
  return value as AnnounceEvent
}

/** Parse a message a client (browser, edge, any WebTorrent client) sent to the tracker. */
export function parseClientMessage(raw: string): ClientMessage {
  const msg = decode(raw)
  switch (msg.action) {
    case 'announce': {
      const info_hash = binaryId(msg, 'info_hash')
      const peer_id = binaryId(msg, 'peer_id')
      if (msg.answer !== undefined && msg.answer !== null) {
        return {
          action: 'announce',
          info_hash,
          peer_id,
          to_peer_id: binaryId(msg, 'to_peer_id'),
          offer_id: binaryId(msg, 'offer_id'),
          answer: sessionDescription(msg.answer, 'answer', 'answer')
        }
      }
      // Built field by field rather than through dropUndefined: this is the tracker's hot
      // path, and deleting keys turns the object into a slow dictionary.
      const announce: AnnounceRequest = { action: 'announce', info_hash, peer_id }
      const event = announceEvent(msg)
      if (event !== undefined) announce.event = event
      const numwant = optionalCount(msg, 'numwant')
      if (numwant !== undefined) announce.numwant = numwant
      const uploaded = optionalCount(msg, 'uploaded')
      if (uploaded !== undefined) announce.uploaded = uploaded
      const downloaded = optionalCount(msg, 'downloaded')
      if (downloaded !== undefined) announce.downloaded = downloaded
      const left = optionalCount(msg, 'left')
      if (left !== undefined) announce.left = left
      const offerList = offers(msg)
      if (offerList !== undefined) announce.offers = offerList
      const region = optionalText(msg, 'region')
      if (region !== undefined) announce.region = region
      return announce
    }
    case 'scrape': {
      const value = msg.info_hash
      const hashes = value === undefined ? [] : Array.isArray(value) ? value : [value]
      if (hashes.length > MAX_SCRAPE_HASHES)
        throw new InvalidMessageError(`invalid info_hash: more than ${MAX_SCRAPE_HASHES}`)
      return {
        action: 'scrape',
        info_hash: hashes.map((h: unknown) => {
          if (!isBinaryId(h)) throw new InvalidMessageError('invalid info_hash: expected 20-character binary strings')
          return h
        })
      }
    }
    case 'p2pcdn:edge-register':
      return dropUndefined({
        action: 'p2pcdn:edge-register' as const,
        v: version(msg),
        id: msg.id === undefined || msg.id === null ? undefined : edgeId(msg),
        token: text(msg, 'token'),
        url: httpUrl(msg, 'url'),
        region: text(msg, 'region', 64),
        capacity: optionalCount(msg, 'capacity') ?? 0
      })
    case 'p2pcdn:edge-load':
      return {
        action: 'p2pcdn:edge-load',
        v: version(msg),
        connections: count(msg, 'connections'),
        bytesPerSec: count(msg, 'bytesPerSec'),
        hitRatio: ratio(msg, 'hitRatio')
      }
    case 'p2pcdn:edges':
      return dropUndefined({ action: 'p2pcdn:edges' as const, v: version(msg), region: optionalText(msg, 'region') })
    case 'p2pcdn:stats':
      return parseStatsReport(msg, version(msg), raw.length)
    default:
      throw new InvalidMessageError(`unknown action: ${JSON.stringify(msg.action ?? null).slice(0, 64)}`)
  }
}

function ratio(msg: Obj, field: string): number {
  const n = count(msg, field)
  if (n > 1) throw new InvalidMessageError(`invalid ${field}: expected a number between 0 and 1`)
  return n
}

function httpUrl(msg: Obj, field: string): string {
  const value = text(msg, field)
  if (!/^https?:\/\/[^\s/]+/i.test(value)) throw new InvalidMessageError(`invalid ${field}: expected an http(s) URL`)
  return value.replace(/\/+$/, '')
}

/** An edge id: what the tracker's edges file and `isEdgeId` allow. */
function edgeId(msg: Obj): string {
  const value = msg.id
  if (!isEdgeId(value)) throw new InvalidMessageError(`invalid id: expected ${EDGE_ID_RULE}`)
  return value
}

function edgeInfo(value: unknown, i: number): EdgeInfo {
  if (!isObject(value)) throw new InvalidMessageError(`invalid edges[${i}]: expected an object`)
  return {
    url: httpUrl(value, 'url'),
    region: text(value, 'region', 64),
    capacity: optionalCount(value, 'capacity') ?? 0,
    connections: optionalCount(value, 'connections') ?? 0,
    bytesPerSec: optionalCount(value, 'bytesPerSec') ?? 0,
    hitRatio: Math.min(1, optionalCount(value, 'hitRatio') ?? 0)
  }
}

/** Parse a message the tracker sent to a client. */
export function parseTrackerMessage(raw: string): TrackerMessage {
  const msg = decode(raw)
  if (typeof msg['failure reason'] === 'string') {
    return dropUndefined({
      'failure reason': msg['failure reason'],
      action: typeof msg.action === 'string' ? msg.action : undefined,
      info_hash: isBinaryId(msg.info_hash) ? msg.info_hash : undefined,
      code: typeof msg.code === 'string' ? msg.code : undefined,
      reason: typeof msg.reason === 'string' ? msg.reason : undefined
    })
  }
  switch (msg.action) {
    case 'announce': {
      const info_hash = binaryId(msg, 'info_hash')
      if (msg.offer !== undefined) {
        return dropUndefined({
          action: 'announce' as const,
          info_hash,
          peer_id: binaryId(msg, 'peer_id'),
          offer_id: binaryId(msg, 'offer_id'),
          offer: sessionDescription(msg.offer, 'offer', 'offer'),
          region: optionalText(msg, 'region')
        })
      }
      if (msg.answer !== undefined) {
        return dropUndefined({
          action: 'announce' as const,
          info_hash,
          peer_id: binaryId(msg, 'peer_id'),
          offer_id: binaryId(msg, 'offer_id'),
          answer: sessionDescription(msg.answer, 'answer', 'answer'),
          region: optionalText(msg, 'region')
        })
      }
      return dropUndefined({
        action: 'announce' as const,
        info_hash,
        interval: count(msg, 'interval'),
        'min interval': optionalCount(msg, 'min interval'),
        complete: optionalCount(msg, 'complete') ?? 0,
        incomplete: optionalCount(msg, 'incomplete') ?? 0
      })
    }
    case 'scrape': {
      if (!isObject(msg.files)) throw new InvalidMessageError('invalid files: expected an object')
      const files = Object.create(null) as Record<string, { complete: number; incomplete: number; downloaded: number }>
      for (const [hash, stats] of Object.entries(msg.files)) {
        if (!isObject(stats)) throw new InvalidMessageError('invalid files entry')
        files[hash] = {
          complete: optionalCount(stats, 'complete') ?? 0,
          incomplete: optionalCount(stats, 'incomplete') ?? 0,
          downloaded: optionalCount(stats, 'downloaded') ?? 0
        }
      }
      return { action: 'scrape', files }
    }
    case 'p2pcdn:edges': {
      if (!Array.isArray(msg.edges)) throw new InvalidMessageError('invalid edges: expected an array')
      return { action: 'p2pcdn:edges', v: version(msg), edges: msg.edges.map(edgeInfo) }
    }
    case 'p2pcdn:edge-registered':
      return { action: 'p2pcdn:edge-registered', v: version(msg), heartbeatMs: count(msg, 'heartbeatMs') }
    default:
      throw new InvalidMessageError(`unknown action: ${JSON.stringify(msg.action ?? null).slice(0, 64)}`)
  }
}
