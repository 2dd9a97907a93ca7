/** Pass-through: requests the cache does not handle go to the origin and back unchanged. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { stripHopByHop } from '../headers.js'
import type { PassedResponse } from '../filler.js'
import type { HandlerContext } from './context.js'
import { baseHeaders, sendError } from './reply.js'

/** Send `req` to the origin as it is (minus hop-by-hop headers) and stream the answer back. */
export async function proxyRequest (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, key: string, cache: 'MISS' | 'BYPASS'): Promise<void> {
  const headers = stripHopByHop(req.headers)
  delete headers.host
  const remote = req.socket.remoteAddress
  if (remote !== undefined) {
    const prior = headers['x-forwarded-for']
    headers['x-forwarded-for'] = prior === undefined ? remote : `${String(prior)}, ${remote}`
  }
  if (req.headers.host !== undefined) headers['x-forwarded-host'] = req.headers.host
  headers.via = '1.1 p2pcdn-edge'
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
  let originRes: IncomingMessage
  try {
    originRes = await ctx.origin.request({ method: req.method ?? 'GET', path: key, headers, body: hasBody ? req : undefined })
  } catch (err) {
    ctx.log.warn('origin-failed', { key, method: req.method, error: String(err) })
    sendError(ctx, res, 502, 'ERR_HTTP', `origin unreachable: ${errorText(err)}`)
    return
  }
  pipeResponse(ctx, req, res, { status: originRes.statusCode ?? 502, headers: stripHopByHop(originRes.headers), body: originRes }, cache)
}

/** Stream an origin response to the client with our CORS headers on top. */
export function pipeResponse (ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, origin: PassedResponse, cache: 'MISS' | 'BYPASS'): void {
  res.writeHead(origin.status, { ...origin.headers, ...baseHeaders(ctx), 'x-cache': cache })
  if (req.method === 'HEAD' || origin.status === 204 || origin.status === 304) {
    origin.body.destroy()
    res.end()
    return
  }
  origin.body.on('data', (chunk: Buffer) => { ctx.counters.bytesServed += chunk.length })
  origin.body.on('error', err => {
    ctx.log.warn('origin-stream-failed', { error: String(err) })
    res.destroy()
  })
  res.on('close', () => {
    if (!origin.body.readableEnded) origin.body.destroy()
  })
  origin.body.pipe(res)
}

export function errorText (err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' ? code : err instanceof Error ? err.message : String(err)
}
