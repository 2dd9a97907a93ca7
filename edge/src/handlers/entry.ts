/**
 * Answering from a stored entry. The common case (a plain GET of a whole object) uses a
 * header list built once per entry and a single `res.end(body)`: no per-request header
 * objects, no copies of the body.
 */
import { randomBytes } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { note } from '../access-log.js'
import { currentAgeS, header } from '../cache/policy.js'
import { HIT_COPY_MAX_BYTES } from '../cache/memory-store.js'
import type { CacheEntry } from '../cache/store.js'
import { appendVia, CORS_HEADERS } from '../headers.js'
import type { Headers } from '../headers.js'
import { clientHasCurrent, ifRangeMatches, parseRange } from '../range.js'
import type { ByteRange } from '../range.js'
import { writeThrottled } from '../throttle.js'
import type { HandlerContext } from './context.js'
import { send } from './reply.js'

export type CacheStatus = 'HIT' | 'MISS' | 'STALE' | 'REVALIDATED'

/** Headers a 304 carries over from the stored response (RFC 9110 §15.4.5). */
const NOT_MODIFIED_HEADERS = [
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'last-modified',
  'vary',
  'cdn-cache-control'
]

/**
 * The response head of one entry, serialized once: `before` + Age + `middle` + X-Cache + `after`.
 * `list` is the same as a flat `[name, value, ...]` list for `writeHead`, for connections
 * the fast path does not cover.
 */
interface HotHead {
  before: string
  middle: string
  after: string
  /** The last head sent, as bytes, and what it said: reused until Age or X-Cache change. */
  bytes: Buffer | undefined
  /** For a small body: the head and the body in one buffer, written with one `write`. */
  whole: Buffer | undefined
  bytesAge: string
  bytesCache: string
  list: string[]
  ageAt: number
  cacheAt: number
}

/**
 * Node's private outgoing-message fields the fast path relies on (present since Node 0.x
 * and still in 22): `_header` holds the serialized head that `end()` sends in front of
 * the body; setting it skips per-request header validation and serialization, which is
 * most of a small hit's CPU. With `_headerSent` also set, Node sends nothing of its own and
 * `end()` only finishes the response, so a small hit written straight to the socket costs
 * one `write` syscall rather than a `writev` of head, body and an empty end chunk.
 * `shouldKeepAlive` / `maxRequestsOnConnectionReached` say
 * whether Node would have written `Connection: keep-alive`.
 */
type RawResponse = ServerResponse & {
  _header: string | Buffer | null
  _headerSent: boolean
  _keepAliveTimeout?: number
  maxRequestsOnConnectionReached?: boolean
}

const hotHeads = new WeakMap<CacheEntry, HotHead>()

function hotHead(ctx: HandlerContext, entry: CacheEntry, keepAliveMs: number): HotHead {
  let hot = hotHeads.get(entry)
  if (hot !== undefined) return hot
  const list: string[] = []
  const headers = entryHeaders(ctx, entry)
  // A cache forwards the origin's Date; one that sent none gets the time it arrived (RFC 9110 §6.6.1).
  if (headers.date === undefined) headers.date = new Date(entry.responseTime).toUTCString()
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) list.push(name, v)
    else list.push(name, value)
  }
  list.push('content-length', String(entry.body.length))
  let before = `HTTP/1.1 ${entry.status} ${STATUS_CODES[entry.status] ?? 'Unknown'}\r\n`
  for (let i = 0; i < list.length; i += 2) before += `${list[i] ?? ''}: ${list[i + 1] ?? ''}\r\n`
  before += `connection: keep-alive\r\n${keepAliveMs > 0 ? `keep-alive: timeout=${Math.floor(keepAliveMs / 1000)}\r\n` : ''}age: `
  list.push('age', '0', 'x-cache', 'HIT')
  hot = {
    before,
    middle: '\r\nx-cache: ',
    after: '\r\n\r\n',
    bytes: undefined,
    whole: undefined,
    bytesAge: '',
    bytesCache: '',
    list,
    ageAt: list.length - 3,
    cacheAt: list.length - 1
  }
  hotHeads.set(entry, hot)
  return hot
}

/** Stored headers plus what the edge adds; framing is added by the caller. */
function entryHeaders(ctx: HandlerContext, entry: CacheEntry): Headers {
  return {
    ...entry.headers,
    via: appendVia(entry.headers.via),
    'accept-ranges': 'bytes',
    ...CORS_HEADERS,
    'x-p2pcdn-region': ctx.config.region
  }
}

/** @param leaderHeaders fields for this client alone (its `Set-Cookie` from the fill it led) */
export function serveEntry(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  entry: CacheEntry,
  cache: CacheStatus,
  leaderHeaders?: Headers
): void {
  const age = String(Math.floor(currentAgeS(entry, ctx.now())))
  const h = req.headers
  // The hot path: nothing conditional, no range, no throttle, nothing for this client alone.
  if (
    req.method === 'GET' &&
    h.range === undefined &&
    h['if-none-match'] === undefined &&
    h['if-modified-since'] === undefined &&
    ctx.throttle === undefined &&
    leaderHeaders === undefined
  ) {
    const raw = res as RawResponse
    const hot = hotHead(ctx, entry, raw._keepAliveTimeout ?? 0)
    if (raw.shouldKeepAlive && raw.maxRequestsOnConnectionReached !== true && raw._header === null) {
      res.statusCode = entry.status
      // Age changes once a second: the head's bytes are rebuilt then, not per request.
      // A Buffer head is fine here because the body that follows is a Buffer too
      // (Node queues a non-string first chunk after the head as-is).
      if (hot.bytes === undefined || hot.bytesAge !== age || hot.bytesCache !== cache) {
        hot.bytes = Buffer.from(hot.before + age + hot.middle + cache + hot.after, 'latin1')
        // memory-store.ts charges small entries for this copy.
        hot.whole = entry.body.length <= HIT_COPY_MAX_BYTES ? Buffer.concat([hot.bytes, entry.body]) : undefined
        hot.bytesAge = age
        hot.bytesCache = cache
      }
      raw._header = hot.bytes
      const socket: (Socket & { _httpMessage?: unknown }) | null = res.socket
      // Only the response at the head of its connection may write to it (pipelining).
      if (hot.whole !== undefined && socket !== null && socket._httpMessage === res && socket.writable) {
        raw._headerSent = true
        socket.write(hot.whole)
        ctx.counters.bytesServed += entry.body.length
        note(res, cache, entry.body.length)
        res.end()
        return
      }
    } else {
      // writeHead copies the list synchronously, so the shared slots can be reused.
      hot.list[hot.ageAt] = age
      hot.list[hot.cacheAt] = cache
      res.writeHead(entry.status, hot.list)
    }
    ctx.counters.bytesServed += entry.body.length
    note(res, cache, entry.body.length)
    res.end(entry.body)
    return
  }
  serveEntrySlow(ctx, req, res, entry, cache, age, leaderHeaders)
}

function serveEntrySlow(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  entry: CacheEntry,
  cache: CacheStatus,
  age: string,
  leaderHeaders: Headers | undefined
): void {
  const head = req.method === 'HEAD'
  const size = entry.body.length
  const extra: Headers = { ...leaderHeaders, 'x-cache': cache, age, via: appendVia(entry.headers.via) }

  if (entry.status === 200 && clientHasCurrent(req.headers, entry.headers)) {
    const kept: Headers = {}
    for (const name of NOT_MODIFIED_HEADERS) {
      const value = entry.headers[name]
      if (value !== undefined) kept[name] = value
    }
    send(ctx, res, 304, { ...kept, ...extra }, undefined, false, cache)
    return
  }

  const headers: Headers = { ...entry.headers, ...extra, 'accept-ranges': 'bytes' }
  const rangeAllowed = entry.status === 200 && ifRangeMatches(header(req.headers, 'if-range'), entry.headers)
  const range = rangeAllowed ? parseRange(header(req.headers, 'range'), size) : { kind: 'none' as const }
  if (range.kind === 'unsatisfiable') {
    send(
      ctx,
      res,
      416,
      { ...extra, 'content-range': `bytes */${size}`, 'content-type': 'text/plain; charset=utf-8' },
      'range not satisfiable\n',
      head,
      cache
    )
    return
  }
  if (range.kind === 'ranges' && range.ranges.length === 1) {
    const [only] = range.ranges as [ByteRange]
    headers['content-range'] = `bytes ${only.start}-${only.end}/${size}`
    send(ctx, res, 206, headers, entry.body.subarray(only.start, only.end + 1), head, cache)
    return
  }
  if (range.kind === 'ranges') {
    const { type, parts } = multipart(entry, range.ranges)
    headers['content-type'] = type
    sendParts(ctx, res, headers, parts, head, cache)
    return
  }
  send(ctx, res, entry.status, headers, entry.body, head, cache)
}

/** `multipart/byteranges` (RFC 9110 §14.6): the body as a list of slices, never copied. */
function multipart(entry: CacheEntry, ranges: ByteRange[]): { type: string; parts: Uint8Array[] } {
  const boundary = randomBytes(12).toString('hex')
  const contentType = header(entry.headers, 'content-type')
  const size = entry.body.length
  const parts: Uint8Array[] = []
  for (const r of ranges) {
    const head = `\r\n--${boundary}\r\n${contentType === undefined ? '' : `content-type: ${contentType}\r\n`}content-range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`
    parts.push(Buffer.from(head), entry.body.subarray(r.start, r.end + 1))
  }
  parts.push(Buffer.from(`\r\n--${boundary}--\r\n`))
  return { type: `multipart/byteranges; boundary=${boundary}`, parts }
}

function sendParts(
  ctx: HandlerContext,
  res: ServerResponse,
  headers: Headers,
  parts: Uint8Array[],
  head: boolean,
  cache: string
): void {
  const length = parts.reduce((n, p) => n + p.length, 0)
  res.writeHead(206, {
    ...headers,
    'content-length': String(length),
    ...CORS_HEADERS,
    'x-p2pcdn-region': ctx.config.region
  })
  note(res, cache, head ? 0 : length)
  if (head) {
    res.end()
    return
  }
  ctx.counters.bytesServed += length
  if (ctx.throttle !== undefined) {
    void writeThrottled(res, parts, ctx.throttle)
    return
  }
  // cork + write + uncork sends the parts in one writev.
  res.cork()
  for (const p of parts) res.write(p)
  res.end()
  res.uncork()
}
