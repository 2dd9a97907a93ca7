/**
 * GET and HEAD of origin content: answered from the cache, filling or revalidating it
 * when needed, and falling back to a stale copy where `stale-while-revalidate` or
 * `stale-if-error` (RFC 5861) allow.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { note } from '../access-log.js'
import { variantOf } from '../cache/cache.js'
import { isFresh, withinStaleWindow } from '../cache/policy.js'
import type { RequestFacts } from '../cache/policy.js'
import type { CacheEntry } from '../cache/store.js'
import type { FillOutcome, LiveFill } from '../filler.js'
import { appendVia } from '../filler.js'
import type { Headers } from '../headers.js'
import { clientHasCurrent } from '../range.js'
import { discard, isTimeout } from '../origin.js'
import type { HandlerContext } from './context.js'
import { serveEntry } from './entry.js'
import { errorText, pipeResponse, proxyRequest } from './proxy.js'
import { baseHeaders, send, sendError } from './reply.js'

export type Lookup = { kind: 'hit', entry: CacheEntry } | { kind: 'stale', entry: CacheEntry, error?: unknown } | FillOutcome

function factsOf (req: IncomingMessage): RequestFacts {
  return { method: 'GET', authorization: req.headers.authorization !== undefined, noStore: false }
}

/**
 * A usable answer for `key`: a fresh entry, a stale one the RFC 5861 windows allow, or
 * whatever filling produced. Rejects when the origin fails and no stale copy may stand in.
 */
export async function lookup (ctx: HandlerContext, req: IncomingMessage, key: string): Promise<Lookup> {
  const id = ctx.cache.idFor(key, req.headers)
  const now = Date.now()
  const entry = ctx.cache.peek(id) ?? await ctx.cache.get(id)
  if (entry !== undefined && isFresh(entry, now)) return { kind: 'hit', entry }
  const fillReq = { key, id, headers: req.headers, facts: factsOf(req), stale: entry }
  if (entry !== undefined && withinStaleWindow(entry, now, entry.staleWhileRevalidateS)) {
    // Revalidate in the background; concurrent stale hits join this one fill.
    void ctx.filler.fill(fillReq).then(drain, err => ctx.log.warn('background-revalidation-failed', { key, error: errorText(err) }))
    return { kind: 'stale', entry }
  }
  let outcome: FillOutcome
  try {
    outcome = await ctx.filler.fill(fillReq)
  } catch (err) {
    if (entry !== undefined && withinStaleWindow(entry, Date.now(), entry.staleIfErrorS)) return { kind: 'stale', entry, error: err }
    throw err
  }
  // §4.2.4 / RFC 5861 §4: a 5xx from the origin may be replaced by the stale copy.
  if (outcome.kind === 'pass' && outcome.status >= 500 && entry !== undefined && withinStaleWindow(entry, Date.now(), entry.staleIfErrorS)) {
    if (outcome.response !== undefined) discard(outcome.response.body)
    return { kind: 'stale', entry }
  }
  return outcome
}

/** A background fill's result nobody reads: let a pass body go. */
function drain (outcome: FillOutcome): void {
  if (outcome.kind === 'pass' && outcome.response !== undefined) discard(outcome.response.body)
}

/** Answer from a fresh entry in memory, synchronously; false when that is not possible. */
export function serveHotHit (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, key: string): boolean {
  const hot = ctx.cache.peek(ctx.cache.idFor(key, req.headers))
  if (hot === undefined || !isFresh(hot, Date.now())) return false
  ctx.counters.hits++
  serveEntry(ctx, req, res, hot, 'HIT')
  return true
}

export async function serveCached (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, key: string, retried = false): Promise<void> {
  if (serveHotHit(ctx, req, res, key)) return
  let found: Lookup
  try {
    found = await lookup(ctx, req, key)
  } catch (err) {
    ctx.counters.misses++
    ctx.log.warn('fill-failed', { key, error: errorText(err) })
    if (isTimeout(err)) sendError(ctx, res, 504, 'ERR_TIMEOUT', `origin timed out: ${errorText(err)}`)
    else sendError(ctx, res, 502, 'ERR_HTTP', `origin failed: ${errorText(err)}`)
    return
  }
  switch (found.kind) {
    case 'hit':
      ctx.counters.hits++
      serveEntry(ctx, req, res, found.entry, 'HIT')
      return
    case 'stale':
      ctx.counters.stale++
      serveEntry(ctx, req, res, found.entry, 'STALE')
      return
  }
  ctx.counters.misses++
  // A joined fill may have been the leader's variant, not ours: look again, once.
  const variant = found.kind === 'stored' ? found.entry.variant : found.kind === 'streaming' ? found.fill.variant : ''
  const vary = found.kind === 'stored' ? found.entry.vary : found.kind === 'streaming' ? varyFrom(found.fill) : []
  if (found.kind !== 'pass' && variantOf(vary, req.headers) !== variant) {
    if (!retried) return await serveCached(ctx, req, res, key, true)
    await proxyRequest(ctx, req, res, key, 'MISS')
    return
  }
  if (found.kind === 'stored') {
    serveEntry(ctx, req, res, found.entry, found.revalidated ? 'REVALIDATED' : 'MISS')
    return
  }
  if (found.kind === 'streaming') {
    await serveLive(ctx, req, res, found.fill)
    return
  }
  if (found.response !== undefined) {
    if (found.reason === 'larger than maxObjectBytes' && req.headers.range !== undefined) {
      // The client wanted a slice of an object too big to cache: ask for just that.
      discard(found.response.body)
      await proxyRequest(ctx, req, res, key, 'MISS')
      return
    }
    pipeResponse(ctx, req, res, found.response, 'MISS')
  } else {
    await proxyRequest(ctx, req, res, key, 'MISS')
  }
}

function varyFrom (fill: LiveFill): string[] {
  const v = fill.headers.vary
  if (v === undefined) return []
  return (Array.isArray(v) ? v.join(',') : v).split(',').map(s => s.trim().toLowerCase()).filter(Boolean)
}

/**
 * Stream a fill to this client as its bytes arrive. Ranges, HEAD and a throttled edge
 * wait for the complete entry instead, which then answers like a hit.
 */
async function serveLive (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, fill: LiveFill): Promise<void> {
  if (fill.status === 200 && clientHasCurrent(req.headers, fill.headers)) {
    send(ctx, res, 304, { etag: fill.headers.etag ?? '', 'x-cache': 'MISS' }, undefined, false, 'MISS')
    return
  }
  if (req.method !== 'GET' || req.headers.range !== undefined || ctx.throttle !== undefined) {
    let entry: CacheEntry
    try {
      entry = await fill.stored
    } catch (err) {
      sendError(ctx, res, 502, 'ERR_HTTP', `origin failed: ${errorText(err)}`)
      return
    }
    serveEntry(ctx, req, res, entry, 'MISS')
    return
  }
  const headers: Headers = { ...fill.headers, via: appendVia(fill.headers.via), 'accept-ranges': 'bytes', ...baseHeaders(ctx), 'x-cache': 'MISS' }
  if (fill.size !== undefined) headers['content-length'] = String(fill.size)
  res.writeHead(fill.status, headers)
  let sent = 0
  await new Promise<void>(resolve => {
    const stop = fill.subscribe(chunk => {
      sent += chunk.length
      ctx.counters.bytesServed += chunk.length
      res.write(chunk)
    }, err => {
      note(res, 'MISS', sent)
      // A short or failed origin body must not look complete to the client either.
      if (err !== undefined) res.destroy(err)
      else res.end()
      resolve()
    })
    res.once('close', () => {
      stop()
      resolve()
    })
  })
}
