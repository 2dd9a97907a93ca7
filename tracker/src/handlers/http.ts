/** Plain HTTP on the tracker's port: health, edge list and stats, all JSON. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { PROTOCOL_VERSION } from '../../../protocol/src/index.js'
import type { EdgesResponse } from '../../../protocol/src/index.js'
import type { TrackerContext } from './context.js'

/** Body of `GET /stats`. */
export interface TrackerStats {
  /** Distinct peer ids across all swarms. */
  peers: number
  swarms: number
  peersByRegion: Record<string, number>
  /** Healthy registered edges. */
  edges: number
  /** Open WebSockets (peers and edges). */
  connections: number
}

/** Route one HTTP request: `/healthz`, `/edges?region=`, `/stats`; 404 otherwise. */
export function handleHttpRequest (ctx: TrackerContext, connections: () => number, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://tracker.invalid')
  const route = ROUTES.get(url.pathname)
  if (route === undefined) {
    sendJson(res, 404, { error: 'not found' })
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD')
    sendJson(res, 405, { error: 'method not allowed' })
    return
  }
  sendJson(res, 200, route(ctx, url, connections))
  ctx.log.http.debug('http', { method: req.method, path: url.pathname })
}

type Route = (ctx: TrackerContext, url: URL, connections: () => number) => unknown

const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/healthz', () => ({ ok: true })],
  // The same body as the `p2pcdn:edges` WebSocket reply, so one parser reads both.
  ['/edges', (ctx, url): EdgesResponse => ({
    action: 'p2pcdn:edges',
    v: PROTOCOL_VERSION,
    edges: ctx.edges.list(url.searchParams.get('region') ?? undefined, ctx.now())
  })],
  ['/stats', (ctx, _url, connections): TrackerStats => ({
    ...ctx.swarms.stats(),
    swarms: ctx.swarms.size,
    edges: ctx.edges.list(undefined, ctx.now()).length,
    connections: connections()
  })]
])

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store'
  })
  res.end(res.req.method === 'HEAD' ? undefined : text)
}
