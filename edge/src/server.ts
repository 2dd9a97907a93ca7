/** HTTP wiring: the routes the edge serves itself, then the cache, then pass-through. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { EDGE_PATHS } from '../../protocol/src/index.js'
import { listen } from '../../service/src/listen.js'
import { trackConnections } from '../../service/src/shutdown.js'
import { createServiceServer } from '../../service/src/tls.js'
import type { AccessLog } from './access-log.js'
import { createTargetMemo } from './target.js'
import type { TargetResult } from './target.js'
import { serveCached, serveHotHit } from './handlers/cached.js'
import { serveChallenge } from './handlers/challenge.js'
import type { HandlerContext } from './handlers/context.js'
import { serveManifest } from './handlers/manifest.js'
import { servePurge } from './handlers/purge.js'
import { proxyRequest } from './handlers/proxy.js'
import { send, sendError, sendJson } from './handlers/reply.js'
import { serveSdk } from './handlers/sdk.js'
import { PREFLIGHT_HEADERS } from './headers.js'

/** Paths under this prefix belong to the edge and never reach the origin. */
const EDGE_PREFIX = '/_p2pcdn/'
/** The browser files the edge serves (read from disk beside the SDK on each request), and their source maps. */
const SDK_FILES: ReadonlyMap<string, string> = new Map(
  [EDGE_PATHS.sdk, EDGE_PATHS.serviceWorker].flatMap(path => [
    [path, path.slice(1)],
    [`${path}.map`, `${path.slice(1)}.map`]
  ])
)

export interface EdgeServer {
  readonly server: Server
  /** Open client connections. */
  readonly connections: number
  listen: (port: number, host: string) => Promise<number>
  /**
   * Stop accepting; let the downloads in flight finish for up to `graceMs`, then cut the
   * rest. Resolves with how many were cut.
   */
  close: (graceMs: number) => Promise<{ cut: number }>
}

/**
 * @param sameOrigins origins an absolute-form request target may name (the origin's
 * and the edge's own), given the port the server got.
 */
export function createEdgeServer(
  ctx: HandlerContext,
  sameOrigins: (port: number) => string[],
  accessLog?: AccessLog
): EdgeServer {
  // Known once listening; computed once rather than per request.
  let origins: string[] = []
  const targets = createTargetMemo()
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    accessLog?.track(req, res)
    const target = targets.parse(req.url ?? '', origins)
    // The hot path: a fresh hit in memory is answered without a promise.
    if (target.ok && (req.method === 'GET' || req.method === 'HEAD') && serveHotHit(ctx, req, res, target.key)) return
    handle(ctx, req, res, target).catch((err: unknown) => fail(req, res, err))
  }
  // Whatever goes wrong in a handler ends that response, never the process.
  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    ctx.log.error('request-failed', {
      url: req.url,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err)
    })
    try {
      sendError(ctx, res, 500, 'ERR_INTERNAL', 'internal error')
    } catch {
      res.destroy()
    }
  }
  const onRequestSafe = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      onRequest(req, res)
    } catch (err) {
      fail(req, res, err)
    }
  }
  // Node's defaults: 16 KiB of headers (431 beyond), and a request with both
  // Content-Length and Transfer-Encoding is refused by the parser (request smuggling).
  const server: Server = createServiceServer(ctx.config.tls, onRequestSafe)
  const connections = trackConnections(server, ctx.config.tls !== undefined)
  // A client that stops reading is closed once its socket has made no progress this long,
  // so what waits for it is bounded in time as well as by backpressure.
  server.setTimeout(ctx.config.clientIdleTimeoutMs)
  server.maxConnections = ctx.config.maxConnections
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    ctx.log.debug('client-error', { error: String(err), code: err.code })
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request'
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
    else socket.destroy()
  })

  return {
    server,
    get connections() {
      return connections.connections
    },
    async listen(port, host) {
      const bound = (await listen(server, port, host)).port
      origins = sameOrigins(bound)
      return bound
    },
    close: async graceMs => await connections.close(graceMs)
  }
}

async function handle(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  target: TargetResult
): Promise<void> {
  if (!target.ok) {
    ctx.log.debug('bad-target', { reason: target.reason })
    sendError(ctx, res, target.status, 'ERR_PROTOCOL', target.reason)
    return
  }
  const loop = ctx.loop.problem(req.headers['cdn-loop'])
  if (loop !== undefined) {
    // RFC 8586 §3 leaves the answer open; 508 Loop Detected (RFC 5842 §7.2) is what CDNs send.
    ctx.log.warn('loop-refused', { url: req.url, reason: loop })
    sendError(ctx, res, 508, 'ERR_PROTOCOL', loop)
    return
  }
  const { key } = target
  const queryAt = key.indexOf('?')
  const path = queryAt === -1 ? key : key.slice(0, queryAt)
  const method = req.method ?? 'GET'
  const readOnly = method === 'GET' || method === 'HEAD'

  if (method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
    send(ctx, res, 204, { ...PREFLIGHT_HEADERS })
    return
  }
  if (path === EDGE_PATHS.purge) {
    if (method === 'POST') await servePurge(ctx, req, res)
    else
      send(
        ctx,
        res,
        405,
        { allow: 'POST', 'content-type': 'application/json; charset=utf-8' },
        JSON.stringify({ error: `method ${method} not allowed`, code: 'ERR_PROTOCOL' })
      )
    return
  }
  const own =
    path === EDGE_PATHS.ping ||
    path === EDGE_PATHS.healthz ||
    path === EDGE_PATHS.metrics ||
    SDK_FILES.has(path) ||
    path.startsWith(EDGE_PREFIX)
  if (own && !readOnly) {
    send(
      ctx,
      res,
      405,
      { allow: 'GET, HEAD, OPTIONS', 'content-type': 'application/json; charset=utf-8' },
      JSON.stringify({ error: `method ${method} not allowed`, code: 'ERR_PROTOCOL' })
    )
    return
  }
  switch (path) {
    case EDGE_PATHS.ping:
      // Clients time this to pick the nearest edge: keep it tiny and never cached.
      send(ctx, res, 204, { 'cache-control': 'no-store', 'timing-allow-origin': '*' })
      return
    case EDGE_PATHS.healthz:
      sendJson(ctx, res, 200, { ok: true, region: ctx.config.region }, {}, method === 'HEAD')
      return
    case EDGE_PATHS.metrics:
      send(
        ctx,
        res,
        200,
        { 'content-type': ctx.metrics.contentType, 'cache-control': 'no-store' },
        await ctx.metrics.render(),
        method === 'HEAD'
      )
      return
    case EDGE_PATHS.challenge:
      serveChallenge(ctx, res, new URLSearchParams(queryAt === -1 ? '' : key.slice(queryAt)), method === 'HEAD')
      return
    case EDGE_PATHS.manifest:
      await serveManifest(ctx, req, res, new URLSearchParams(queryAt === -1 ? '' : key.slice(queryAt)))
      return
  }
  const sdkFile = SDK_FILES.get(path)
  if (sdkFile !== undefined) {
    await serveSdk(ctx, req, res, sdkFile)
    return
  }
  if (path.startsWith(EDGE_PREFIX)) {
    sendError(ctx, res, 404, 'ERR_PROTOCOL', `no such edge endpoint: ${path}`)
    return
  }
  if (readOnly) await serveCached(ctx, req, res, key)
  else await proxyRequest(ctx, req, res, key, 'BYPASS')
}
