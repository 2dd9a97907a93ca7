/**
 * `POST /_p2pcdn/purge` with `Authorization: Bearer <purgeToken>` and a JSON body
 * `{"url": "/a.mp4"}` (a path or an absolute origin URL; every variant goes) or
 * `{"prefix": "/videos/"}`. Answers `{"purged": n}`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { secretEquals } from '../../../service/src/secret.js'
import { resolveResourceUrl } from '../target.js'
import type { HandlerContext } from './context.js'
import { sendError, sendJson } from './reply.js'
import { errorMessageOf } from '../../../protocol/src/index.js'

/** A purge request is a URL or a prefix; anything bigger is not one. */
const MAX_PURGE_BODY_BYTES = 16 * 1024

export async function servePurge(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = ctx.config.purgeToken
  if (token === undefined) {
    sendError(ctx, res, 404, 'ERR_PROTOCOL', 'purge is disabled (no purge token configured)')
    return
  }
  if (!bearerMatches(req.headers.authorization, token)) {
    res.setHeader('www-authenticate', 'Bearer')
    sendError(ctx, res, 401, 'ERR_PROTOCOL', 'missing or wrong bearer token')
    return
  }
  let body: unknown
  try {
    body = JSON.parse(await readBody(req))
  } catch (err) {
    sendError(ctx, res, 400, 'ERR_PROTOCOL', `body must be JSON {"url"} or {"prefix"}: ${errorMessageOf(err)}`)
    return
  }
  const { url, prefix } = (typeof body === 'object' && body !== null ? body : {}) as { url?: unknown; prefix?: unknown }
  if (typeof url === 'string' && url !== '') {
    const target = resolveResourceUrl(url, ctx.config.origin)
    if (!target.ok) {
      sendError(ctx, res, target.status, 'ERR_PROTOCOL', target.reason)
      return
    }
    const purged = await ctx.cache.invalidate(target.key)
    ctx.log.info('purged', { url: target.key, purged })
    sendJson(ctx, res, 200, { purged })
    return
  }
  if (typeof prefix === 'string' && prefix.startsWith('/')) {
    const purged = await ctx.cache.purgePrefix(prefix)
    ctx.log.info('purged', { prefix, purged })
    sendJson(ctx, res, 200, { purged })
    return
  }
  sendError(ctx, res, 400, 'ERR_PROTOCOL', 'expected {"url": "/path"} or {"prefix": "/path/"}')
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  return m !== null && secretEquals(m[1] ?? '', token)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const parts: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_PURGE_BODY_BYTES) throw new Error(`body over ${MAX_PURGE_BODY_BYTES} bytes`)
    parts.push(chunk as Buffer)
  }
  return Buffer.concat(parts).toString('utf8')
}
