/**
 * GET and HEAD of origin content: answered from the cache, filling or revalidating it
 * when needed, and falling back to a stale copy where `stale-while-revalidate` or
 * `stale-if-error` (RFC 5861) allow.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { isFresh, withinStaleWindow } from '../cache/policy.js'
import type { RequestFacts } from '../cache/policy.js'
import type { CacheEntry } from '../cache/store.js'
import type { FillOutcome, LiveFill } from '../filler.js'
import { appendVia } from '../headers.js'
import type { Headers } from '../headers.js'
import { clientHasCurrent } from '../range.js'
import { discard } from '../origin.js'
import { remoteOf } from '../origin-request.js'
import type { HandlerContext } from './context.js'
import { serveEntry } from './entry.js'
import { forwardInfo } from './informational.js'
import { errorText, pipeBody, pipeResponse, proxyRequest, sendOriginError } from './proxy.js'
import { baseHeaders, send } from './reply.js'

export type Lookup =
  { kind: 'hit'; entry: CacheEntry } | { kind: 'stale'; entry: CacheEntry; error?: unknown } | FillOutcome

function factsOf(req: IncomingMessage): RequestFacts {
  return {
    method: 'GET',
    authorization: req.headers.authorization !== undefined,
    cookie: req.headers.cookie !== undefined,
    noStore: false
  }
}

/**
 * A stored entry answers a request with credentials only when the origin made it
 * public: otherwise the request goes to the origin as that user's own.
 */
function usableFor(entry: CacheEntry, req: IncomingMessage): boolean {
  return entry.shared || (req.headers.cookie === undefined && req.headers.authorization === undefined)
}

/**
 * A usable answer for `key`: a fresh entry, a stale one the RFC 5861 windows allow, or
 * whatever filling produced. Rejects when the origin fails and no stale copy may stand in.
 */
export async function lookup(
  ctx: HandlerContext,
  req: IncomingMessage,
  key: string,
  res?: ServerResponse
): Promise<Lookup> {
  const id = ctx.cache.idFor(key, req.headers)
  const now = Date.now()
  const found = ctx.cache.peek(id) ?? (await ctx.cache.get(id))
  const entry = found !== undefined && usableFor(found, req) ? found : undefined
  if (entry !== undefined && isFresh(entry, now)) return { kind: 'hit', entry }
  const fillReq = {
    key,
    id,
    headers: req.headers,
    facts: factsOf(req),
    stale: entry,
    remote: remoteOf(req),
    onInfo: forwardInfo(res)
  }
  if (entry !== undefined && withinStaleWindow(entry, now, entry.staleWhileRevalidateS)) {
    // Revalidate in the background; concurrent stale hits join this one fill.
    void ctx.filler
      .fill({ ...fillReq, onInfo: undefined })
      .then(drain, (err: unknown) => ctx.log.warn('background-revalidation-failed', { key, error: errorText(err) }))
    return { kind: 'stale', entry }
  }
  let outcome: FillOutcome
  try {
    outcome = await ctx.filler.fill(fillReq)
  } catch (err) {
    if (entry !== undefined && withinStaleWindow(entry, Date.now(), entry.staleIfErrorS))
      return { kind: 'stale', entry, error: err }
    throw err
  }
  // §4.2.4 / RFC 5861 §4: a 5xx from the origin may be replaced by the stale copy.
  if (
    outcome.kind === 'pass' &&
    outcome.status >= 500 &&
    entry !== undefined &&
    withinStaleWindow(entry, Date.now(), entry.staleIfErrorS)
  ) {
    if (outcome.response !== undefined) discard(outcome.response.body)
    return { kind: 'stale', entry }
  }
  return outcome
}

/** A background fill's result nobody reads: let a pass body go. */
function drain(outcome: FillOutcome): void {
  if (outcome.kind === 'pass' && outcome.response !== undefined) discard(outcome.response.body)
}

/** Answer from a fresh entry in memory, synchronously; false when that is not possible. */
export function serveHotHit(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, key: string): boolean {
  const hot = ctx.cache.peek(ctx.cache.idFor(key, req.headers))
  if (hot === undefined || !isFresh(hot, Date.now()) || !usableFor(hot, req)) return false
  ctx.counters.hits++
  serveEntry(ctx, req, res, hot, 'HIT')
  return true
}

export async function serveCached(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  key: string,
  retried = false
): Promise<void> {
  if (serveHotHit(ctx, req, res, key)) return
  let found: Lookup
  try {
    found = await lookup(ctx, req, key, res)
  } catch (err) {
    ctx.counters.misses++
    sendOriginError(ctx, res, key, err)
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
  // Also when the fill was keyed without a field its response turned out to vary on.
  const variant = found.kind === 'stored' ? found.entry.variant : found.kind === 'streaming' ? found.fill.variant : ''
  const vary = found.kind === 'stored' ? found.entry.vary : found.kind === 'streaming' ? found.fill.vary : []
  if (found.kind !== 'pass' && ctx.cache.variantFor(vary, req.headers) !== variant) {
    if (!retried) {
      await serveCached(ctx, req, res, key, true)
      return
    }
    await proxyRequest(ctx, req, res, key, 'MISS')
    return
  }
  if (found.kind === 'stored') {
    serveEntry(ctx, req, res, found.entry, found.revalidated ? 'REVALIDATED' : 'MISS', found.leaderHeaders)
    return
  }
  if (found.kind === 'streaming') {
    await serveLive(ctx, req, res, found.fill, found.leaderHeaders)
    return
  }
  if (found.response !== undefined) {
    if (found.tooBig === true && req.headers.range !== undefined) {
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

/**
 * Stream a fill to this client as its bytes arrive, at the client's pace. Ranges, HEAD
 * and conditionals wait for the complete entry instead, which then answers like a hit.
 */
async function serveLive(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  fill: LiveFill,
  leaderHeaders: Headers | undefined
): Promise<void> {
  const age = String(Math.floor(fill.ageS(Date.now())))
  if (fill.status === 200 && clientHasCurrent(req.headers, fill.headers)) {
    send(
      ctx,
      res,
      304,
      { etag: fill.headers.etag ?? '', age, 'x-cache': 'MISS', ...leaderHeaders },
      undefined,
      false,
      'MISS'
    )
    return
  }
  if (req.method !== 'GET' || req.headers.range !== undefined) {
    let entry: CacheEntry
    try {
      entry = await fill.stored
    } catch (err) {
      // Not stored (too large, no memory, origin failed): this client asks on its own.
      if (fill.tooBig && !res.headersSent) {
        await proxyRequest(ctx, req, res, fill.key, 'MISS')
        return
      }
      sendOriginError(ctx, res, fill.key, err)
      return
    }
    serveEntry(ctx, req, res, entry, 'MISS', leaderHeaders)
    return
  }
  const headers: Headers = {
    ...fill.headers,
    via: appendVia(fill.headers.via),
    'accept-ranges': 'bytes',
    age,
    ...leaderHeaders,
    ...baseHeaders(ctx),
    'x-cache': 'MISS'
  }
  if (fill.size !== undefined) headers['content-length'] = String(fill.size)
  res.writeHead(fill.status, headers)
  await pipeBody(ctx, res, fill.open(), 'MISS')
}
