/**
 * Pass-through: requests the cache does not handle go to the origin and back. The
 * request head is the edge's (`origin-request.ts`); a successful unsafe method
 * invalidates what it may have changed (RFC 9111 §4.4). Bodies stream at the client's
 * pace: the origin is read only as fast as the client takes the bytes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { note } from '../access-log.js'
import type { PassedResponse } from '../filler.js'
import { appendVia, stripHopByHop } from '../headers.js'
import { discard, isTimeout } from '../origin.js'
import { passHeaders, remoteOf } from '../origin-request.js'
import { parseRequestTarget } from '../target.js'
import { writeThrottled } from '../throttle.js'
import type { HandlerContext } from './context.js'
import { forwardInfo } from './informational.js'
import { baseHeaders, send, sendError } from './reply.js'

/** Methods that cannot change state (RFC 9110 §9.2.1); any other invalidates on success. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Send `req` to the origin with the edge's request head and stream the answer back. */
export async function proxyRequest(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  key: string,
  cache: 'MISS' | 'BYPASS'
): Promise<void> {
  const remote = remoteOf(req)
  const headers = passHeaders(req, remote, ctx.publicAddress(), ctx.loop)
  const method = req.method ?? 'GET'
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined
  let originRes
  try {
    originRes = await ctx.origin.request({
      method,
      path: key,
      headers,
      body: hasBody && method !== 'GET' && method !== 'HEAD' ? req : undefined,
      client: remote ?? '',
      onInfo: forwardInfo(res)
    })
  } catch (err) {
    sendOriginError(ctx, res, key, err)
    return
  }
  const resHeaders = stripHopByHop(originRes.headers)
  if (!SAFE.has(method) && originRes.status >= 200 && originRes.status < 400)
    await invalidateAfterUnsafe(ctx, key, resHeaders, req.headers.host)
  pipeResponse(ctx, req, res, { status: originRes.status, headers: resHeaders, body: originRes.body }, cache)
}

/** The client's answer when the origin could not be asked or did not answer. */
export function sendOriginError(ctx: HandlerContext, res: ServerResponse, key: string, err: unknown): void {
  ctx.log.warn(`${upstreamName(ctx)}-failed`, { key, error: errorText(err) })
  if ((err as { code?: unknown }).code === 'EDGE_QUEUE_FULL') {
    if (res.headersSent) res.destroy()
    else
      send(
        ctx,
        res,
        503,
        { 'retry-after': '1', 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
        JSON.stringify({ error: errorText(err), code: 'ERR_HTTP' })
      )
  } else if (isTimeout(err))
    sendError(ctx, res, 504, 'ERR_TIMEOUT', `${upstreamName(ctx)} timed out: ${errorText(err)}`)
  else sendError(ctx, res, 502, 'ERR_HTTP', `${upstreamName(ctx)} failed: ${errorText(err)}`)
}

/** What failed, in error bodies: the operator reads a 502 differently when the shield is down. */
export function upstreamName(ctx: HandlerContext): 'origin' | 'parent' {
  return ctx.config.parent === undefined ? 'origin' : 'parent'
}

/** §4.4: the target URI, and Location / Content-Location when they are on the same host. */
async function invalidateAfterUnsafe(
  ctx: HandlerContext,
  key: string,
  headers: Record<string, string | string[]>,
  host: string | undefined
): Promise<void> {
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
export function pipeResponse(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  origin: PassedResponse,
  cache: 'MISS' | 'BYPASS'
): void {
  res.writeHead(origin.status, {
    ...origin.headers,
    via: appendVia(origin.headers.via),
    ...baseHeaders(ctx),
    'x-cache': cache
  })
  if (req.method === 'HEAD' || origin.status === 204 || origin.status === 304) {
    discard(origin.body)
    note(res, cache, 0)
    res.end()
    return
  }
  void pipeBody(ctx, res, origin.body, cache)
}

/**
 * Copy `body` to the client with backpressure (and the send-rate cap when set), counting
 * bytes; a body that fails cuts the response short so it never looks complete. Resolves
 * when the response ends or the client goes.
 */
export async function pipeBody(ctx: HandlerContext, res: ServerResponse, body: Readable, cache: string): Promise<void> {
  let sent = 0
  const count = (n: number): void => {
    sent += n
    ctx.counters.bytesServed += n
  }
  await new Promise<void>(resolve => {
    const done = (): void => {
      note(res, cache, sent)
      resolve()
    }
    body.once('error', err => {
      ctx.log.warn('origin-stream-failed', { error: errorText(err) })
      res.destroy()
      done()
    })
    body.once('end', done)
    res.once('close', () => {
      if (!body.readableEnded) discard(body)
      done()
    })
    const throttle = ctx.throttle
    if (throttle === undefined) {
      body.on('data', (chunk: Buffer) => count(chunk.length))
      body.pipe(res)
      return
    }
    void (async () => {
      for await (const chunk of body) {
        count((chunk as Buffer).length)
        await writeThrottled(res, chunk as Buffer, throttle, false)
      }
      res.end()
    })().catch(() => res.destroy())
  })
}

export function errorText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' && code !== 'EDGE_QUEUE_FULL'
    ? code
    : err instanceof Error
      ? err.message
      : String(err)
}
