/**
 * Pass-through: requests the cache does not handle go to the origin and back with only
 * hop-by-hop fields changed. A successful unsafe method invalidates what it may have
 * changed (RFC 9111 §4.4).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { note } from '../access-log.js'
import { appendVia } from '../filler.js'
import type { PassedResponse } from '../filler.js'
import { omit, stripHopByHop } from '../headers.js'
import { discard, isTimeout } from '../origin.js'
import { parseRequestTarget } from '../target.js'
import type { HandlerContext } from './context.js'
import { writeThrottled } from '../throttle.js'
import { baseHeaders, sendError } from './reply.js'

/** Methods that cannot change state (RFC 9110 §9.2.1); any other invalidates on success. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Send `req` to the origin as it is (minus hop-by-hop headers) and stream the answer back. */
export async function proxyRequest (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, key: string, cache: 'MISS' | 'BYPASS'): Promise<void> {
  // undici frames the body itself and refuses `expect`; `host` becomes the origin's.
  const headers = omit(stripHopByHop(req.headers), ['host', 'expect'])
  const remote = req.socket.remoteAddress
  if (remote !== undefined) {
    const prior = headers['x-forwarded-for']
    headers['x-forwarded-for'] = prior === undefined ? remote : `${String(prior)}, ${remote}`
  }
  if (req.headers.host !== undefined) headers['x-forwarded-host'] = req.headers.host
  headers.via = appendVia(headers.via)
  const method = req.method ?? 'GET'
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  let originRes
  try {
    originRes = await ctx.origin.request({ method, path: key, headers, body: hasBody && method !== 'GET' && method !== 'HEAD' ? req : undefined })
  } catch (err) {
    ctx.log.warn('origin-failed', { key, method, error: errorText(err) })
    if (isTimeout(err)) sendError(ctx, res, 504, 'ERR_TIMEOUT', `origin timed out: ${errorText(err)}`)
    else sendError(ctx, res, 502, 'ERR_HTTP', `origin unreachable: ${errorText(err)}`)
    return
  }
  const resHeaders = stripHopByHop(originRes.headers)
  if (!SAFE.has(method) && originRes.status >= 200 && originRes.status < 400) await invalidateAfterUnsafe(ctx, key, resHeaders, req.headers.host)
  pipeResponse(ctx, req, res, { status: originRes.status, headers: resHeaders, body: originRes.body }, cache)
}

/** §4.4: the target URI, and Location / Content-Location when they are on the same host. */
async function invalidateAfterUnsafe (ctx: HandlerContext, key: string, headers: Record<string, string | string[]>, host: string | undefined): Promise<void> {
  await ctx.cache.invalidate(key)
  const sameOrigins = [ctx.config.origin.origin]
  if (host !== undefined) sameOrigins.push(`http://${host}`, `https://${host}`)
  for (const name of ['location', 'content-location']) {
    const value = headers[name]
    if (typeof value !== 'string') continue
    let url: URL
    try {
      url = new URL(value, ctx.config.origin.origin + key)
    } catch {
      continue
    }
    if (!sameOrigins.includes(url.origin)) continue
    const target = parseRequestTarget(url.pathname + url.search, [])
    if (target.ok) await ctx.cache.invalidate(target.key)
  }
}

/** Stream an origin response to the client with our CORS headers on top. */
export function pipeResponse (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, origin: PassedResponse, cache: 'MISS' | 'BYPASS'): void {
  res.writeHead(origin.status, { ...origin.headers, via: appendVia(origin.headers.via), ...baseHeaders(ctx), 'x-cache': cache })
  let sent = 0
  if (req.method === 'HEAD' || origin.status === 204 || origin.status === 304) {
    discard(origin.body)
    note(res, cache, 0)
    res.end()
    return
  }
  origin.body.on('data', (chunk: Buffer) => {
    sent += chunk.length
    ctx.counters.bytesServed += chunk.length
  })
  origin.body.on('end', () => note(res, cache, sent))
  origin.body.on('error', err => {
    ctx.log.warn('origin-stream-failed', { error: errorText(err) })
    res.destroy()
  })
  res.on('close', () => {
    if (!origin.body.readableEnded) discard(origin.body)
  })
  if (ctx.throttle === undefined) {
    origin.body.pipe(res)
    return
  }
  const throttle = ctx.throttle
  void (async () => {
    for await (const chunk of origin.body) await writeThrottled(res, chunk as Buffer, throttle, false)
    res.end()
  })().catch(() => res.destroy())
}

export function errorText (err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err)
}
