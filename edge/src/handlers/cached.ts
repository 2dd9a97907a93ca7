/** GET and HEAD of origin content: answered from the cache, filling it on a miss. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { currentAgeS, header, isFresh } from '../cache/policy.js'
import type { CacheEntry } from '../cache/store.js'
import type { FillOutcome } from '../filler.js'
import type { Headers } from '../headers.js'
import { ifRangeMatches, noneMatch, parseRange } from '../range.js'
import type { HandlerContext } from './context.js'
import { errorText, pipeResponse, proxyRequest } from './proxy.js'
import { send, sendError } from './reply.js'

export type Lookup = { kind: 'hit', entry: CacheEntry } | FillOutcome

/** A fresh entry, or whatever filling (or revalidating) it produced. Rejects when the origin fails. */
export async function lookup (ctx: HandlerContext, key: string): Promise<Lookup> {
  const entry = await ctx.store.get(key)
  if (entry !== undefined && isFresh(entry, Date.now())) return { kind: 'hit', entry }
  return await ctx.filler.fill(key, entry)
}

export async function serveCached (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, key: string): Promise<void> {
  // RFC 9111 §3.5: a shared cache must not answer an authenticated request from storage.
  if (req.headers.authorization !== undefined) {
    ctx.counters.misses++
    await proxyRequest(ctx, req, res, key, 'BYPASS')
    return
  }
  let found: Lookup
  try {
    found = await lookup(ctx, key)
  } catch (err) {
    ctx.counters.misses++
    ctx.log.warn('fill-failed', { key, error: String(err) })
    sendError(ctx, res, 502, 'ERR_HTTP', `origin failed: ${errorText(err)}`)
    return
  }
  if (found.kind === 'hit') {
    ctx.counters.hits++
    serveEntry(ctx, req, res, found.entry, 'HIT')
    return
  }
  ctx.counters.misses++
  if (found.kind === 'stored') {
    serveEntry(ctx, req, res, found.entry, 'MISS')
    return
  }
  // Not storable: claim synchronously (see filler.ts), else ask the origin ourselves.
  const live = found.claim()
  if (live !== undefined) pipeResponse(ctx, req, res, live, 'MISS')
  else await proxyRequest(ctx, req, res, key, 'MISS')
}

/** Headers a 304 carries over from the stored response (RFC 9110 §15.4.5). */
const NOT_MODIFIED_HEADERS = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'last-modified', 'vary']

export function serveEntry (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, entry: CacheEntry, cache: 'HIT' | 'MISS'): void {
  const head = req.method === 'HEAD'
  const size = entry.body.length
  const age = Math.floor(currentAgeS(entry, Date.now()))
  const extra: Headers = { 'x-cache': cache }
  if (cache === 'HIT' || age > 0) extra.age = String(age)

  if (noneMatch(req.headers['if-none-match'], header(entry.headers, 'etag')) || notModifiedSince(req, entry)) {
    const kept: Headers = {}
    for (const name of NOT_MODIFIED_HEADERS) {
      const value = entry.headers[name]
      if (value !== undefined) kept[name] = value
    }
    send(ctx, res, 304, { ...kept, ...extra })
    return
  }

  const headers: Headers = { ...entry.headers, ...extra, 'accept-ranges': 'bytes' }
  const range = ifRangeMatches(header(req.headers, 'if-range'), entry) ? parseRange(req.headers.range, size) : { kind: 'none' as const }
  if (range.kind === 'unsatisfiable') {
    send(ctx, res, 416, { ...extra, 'content-range': `bytes */${size}` }, '', head)
    return
  }
  if (range.kind === 'range') {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`
    send(ctx, res, 206, headers, entry.body.subarray(range.start, range.end + 1), head)
    return
  }
  send(ctx, res, 200, headers, entry.body, head)
}

/** If-Modified-Since counts only without If-None-Match (RFC 9110 §13.1.3). */
function notModifiedSince (req: IncomingMessage, entry: CacheEntry): boolean {
  const since = req.headers['if-modified-since']
  const lastModified = header(entry.headers, 'last-modified')
  if (req.headers['if-none-match'] !== undefined || since === undefined || lastModified === undefined) return false
  const a = Date.parse(since)
  const b = Date.parse(lastModified)
  return !Number.isNaN(a) && !Number.isNaN(b) && b <= a
}
