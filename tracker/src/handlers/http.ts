/** Plain HTTP on the tracker's port: health, edge list, stats (JSON) and Prometheus metrics. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ScrapeMetrics } from '../../../service/src/metrics.js'
import { PROTOCOL_VERSION, binaryStringToHex, errorMessageOf } from '../../../protocol/src/index.js'
import type { EdgeInfo, EdgesResponse } from '../../../protocol/src/index.js'
import type { TrackerContext } from './context.js'
import { DASHBOARD_ROUTES, dashboardAccess } from './dashboard.js'
import { listEdges } from './edges.js'
import { Page, send, sendJson } from './http-reply.js'

/** Most swarms listed in `/stats`, the biggest first. */
export const MAX_STATS_SWARMS = 100

/** One swarm in `/stats`. */
export interface SwarmStats {
  /** info_hash as 40 hex digits. */
  infoHash: string
  peers: number
  complete: number
  incomplete: number
  peersByRegion: Record<string, number>
}

/** Body of `GET /stats`. Counts are this process's; `edges` are the cluster's in cluster mode. */
export interface TrackerStats {
  /** Distinct peer ids across all swarms. */
  peers: number
  swarms: number
  peersByRegion: Record<string, number>
  /** Healthy registered edges. */
  edges: number
  /** The healthy edges with their last reported load. */
  edgeList: EdgeInfo[]
  /** Open WebSockets (peers and edges). */
  connections: number
  /** The biggest swarms, at most `MAX_STATS_SWARMS`. */
  swarmList: SwarmStats[]
  /** This process's id in a cluster; absent for a single process. */
  node?: string
}

/** What the routes need besides the context. */
export interface HttpSources {
  connections: () => number
  metrics: ScrapeMetrics
}

/**
 * Route one HTTP request: `/healthz`, `/edges?region=`, `/stats`, `/metrics`, and with a
 * `dashboardToken` `/dashboard` and `/dashboard.json`; 404 otherwise.
 */
export function handleHttpRequest(
  ctx: TrackerContext,
  src: HttpSources,
  req: IncomingMessage,
  res: ServerResponse
): void {
  const url = new URL(req.url ?? '/', 'http://tracker.invalid')
  const dashboard = DASHBOARD_ROUTES.get(url.pathname)
  const route = ROUTES.get(url.pathname) ?? dashboard
  if (route === undefined) {
    sendJson(res, 404, { error: 'not found' })
    return
  }
  if (dashboard !== undefined && !dashboardAccess(ctx, req, res)) return
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD')
    sendJson(res, 405, { error: 'method not allowed' })
    return
  }
  route(ctx, url, src).then(
    body => {
      if (typeof body === 'string') send(res, 200, src.metrics.contentType, body)
      else if (body instanceof Page) send(res, 200, 'text/html; charset=utf-8', body.html, body.headers)
      else sendJson(res, 200, body)
    },
    (err: unknown) => {
      ctx.log.http.warn('http-failed', { path: url.pathname, error: errorMessageOf(err) })
      sendJson(res, 503, { error: 'unavailable' })
    }
  )
}

/** A string body is Prometheus text, a Page is HTML; anything else goes out as JSON. */
export type Route = (ctx: TrackerContext, url: URL, src: HttpSources) => Promise<unknown>

const ROUTES: ReadonlyMap<string, Route> = new Map<string, Route>([
  ['/healthz', () => Promise.resolve({ ok: true })],
  // The same body as the `p2pcdn:edges` WebSocket reply, so one parser reads both.
  [
    '/edges',
    async (ctx, url): Promise<EdgesResponse> => ({
      action: 'p2pcdn:edges',
      v: PROTOCOL_VERSION,
      edges: await listEdges(ctx, url.searchParams.get('region') ?? undefined)
    })
  ],
  [
    '/stats',
    async (ctx, _url, src): Promise<TrackerStats> => {
      const edgeList = await listEdges(ctx, undefined)
      const stats: TrackerStats = {
        ...ctx.swarms.stats(),
        swarms: ctx.swarms.size,
        edges: edgeList.length,
        edgeList,
        connections: src.connections(),
        swarmList: swarmList(ctx)
      }
      if (ctx.cluster !== undefined) stats.node = ctx.cluster.nodeId
      return stats
    }
  ],
  ['/metrics', async (_ctx, _url, src) => await src.metrics.render()]
])

function swarmList(ctx: TrackerContext): SwarmStats[] {
  return [...ctx.swarms.values()]
    .sort((a, b) => b.size - a.size)
    .slice(0, MAX_STATS_SWARMS)
    .map(swarm => ({
      infoHash: binaryStringToHex(swarm.infoHash),
      peers: swarm.size,
      complete: swarm.complete,
      incomplete: swarm.incomplete,
      peersByRegion: swarm.regionCounts()
    }))
}
