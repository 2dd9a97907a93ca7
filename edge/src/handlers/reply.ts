/** Small response helpers; every response goes out with the CORS and region headers. */
import type { ServerResponse } from 'node:http'
import type { ErrorCode } from '../../../protocol/src/index.js'
import { note } from '../access-log.js'
import { CORS_HEADERS } from '../headers.js'
import type { Headers } from '../headers.js'
import { writeThrottled } from '../throttle.js'
import type { HandlerContext } from './context.js'

export function baseHeaders(ctx: HandlerContext): Headers {
  return { ...CORS_HEADERS, 'x-p2pcdn-region': ctx.config.region }
}

/** Write head and (unless HEAD) body, counting body bytes. */
export function send(
  ctx: HandlerContext,
  res: ServerResponse,
  status: number,
  headers: Headers,
  body?: Uint8Array | string,
  head = false,
  cache = '-'
): void {
  const bytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body
  const out: Headers = { ...headers, ...baseHeaders(ctx) }
  if (bytes !== undefined) out['content-length'] = String(bytes.length)
  res.writeHead(status, out)
  const sent = bytes === undefined || head ? 0 : bytes.length
  note(res, cache, sent)
  if (sent === 0 || bytes === undefined) {
    res.end()
    return
  }
  ctx.counters.bytesServed += sent
  if (ctx.throttle !== undefined) void writeThrottled(res, bytes, ctx.throttle)
  else res.end(bytes)
}

export function sendJson(
  ctx: HandlerContext,
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Headers = {},
  head = false
): void {
  send(
    ctx,
    res,
    status,
    { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    JSON.stringify(value),
    head
  )
}

/** JSON error body `{error, code}`; clients match on `code`. */
export function sendError(
  ctx: HandlerContext,
  res: ServerResponse,
  status: number,
  code: ErrorCode,
  error: string
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  sendJson(ctx, res, status, { error, code })
}
