/**
 * The p2pcdn edge actions: an edge registers with the shared token and reports its load
 * (which doubles as its heartbeat); any client may ask for the healthy edges.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { PROTOCOL_VERSION, ProtocolError } from '../../../protocol/src/index.js'
import type { EdgeInfo, EdgeLoadRequest, EdgeRegisterRequest, EdgesRequest } from '../../../protocol/src/index.js'
import { orderEdges } from '../edge-registry.js'
import type { Connection } from '../connection.js'
import { Refusal } from '../refusal.js'
import type { TrackerContext } from './context.js'

/** Register the edge behind `conn` if its token matches; throws ProtocolError otherwise. */
export function handleEdgeRegister (ctx: TrackerContext, conn: Connection, msg: EdgeRegisterRequest): void {
  const expected = ctx.config.edgeToken
  if (expected === undefined) {
    throw new Refusal('edge-refused', 'edge registration refused: no edge token is configured on this tracker')
  }
  if (!tokensEqual(msg.token, expected)) {
    throw new Refusal('edge-refused', 'edge registration refused: wrong token')
  }
  ctx.edges.register(conn, { url: msg.url, region: msg.region, capacity: msg.capacity }, ctx.now())
  shareEdge(ctx, conn)
  conn.send({ action: 'p2pcdn:edge-registered', v: PROTOCOL_VERSION, heartbeatMs: ctx.config.edgeHeartbeatMs })
  ctx.log.edges.info('edge-registered', { conn: conn.id, url: msg.url, region: msg.region, capacity: msg.capacity })
}

/** Record load and last-seen; throws ProtocolError for a connection with no edge. */
export function handleEdgeLoad (ctx: TrackerContext, conn: Connection, msg: EdgeLoadRequest): void {
  if (!ctx.edges.reportLoad(conn, msg, ctx.now())) {
    // Also what an edge sees after it was dropped for missing heartbeats: register again.
    throw new ProtocolError('edge load refused: this connection has no registered edge')
  }
  shareEdge(ctx, conn)
}

/** In cluster mode every load report refreshes the edge's expiring key in Redis. */
function shareEdge (ctx: TrackerContext, conn: Connection): void {
  const edge = ctx.edges.get(conn)
  if (ctx.cluster !== undefined && edge !== undefined) ctx.cluster.edgeUpdated(edge)
}

/** Healthy edges for `region`: this process's, or the whole cluster's. Neighbours follow the region. */
export async function listEdges (ctx: TrackerContext, region: string | undefined): Promise<EdgeInfo[]> {
  const neighbours = region === undefined ? [] : ctx.config.regions.neighbours(region)
  if (ctx.cluster === undefined) return ctx.edges.list(region, ctx.now(), neighbours)
  return orderEdges(await ctx.cluster.edges(), region, neighbours)
}

/** Reply with healthy edges, the requested (or announced) region first. */
export function handleEdgesRequest (ctx: TrackerContext, conn: Connection, msg: EdgesRequest): void {
  listEdges(ctx, msg.region ?? conn.region).then(edges => {
    conn.send({ action: 'p2pcdn:edges', v: PROTOCOL_VERSION, edges })
  }, (err: unknown) => {
    ctx.log.edges.warn('edge-list-failed', { conn: conn.id, error: err instanceof Error ? err.message : String(err) })
    conn.send({ 'failure reason': 'edge list unavailable', action: 'p2pcdn:edges' })
  })
}

/**
 * Constant-time token check. Hashing first gives both sides the same length, so neither
 * the comparison nor an early length mismatch leaks how much of the token was right.
 */
function tokensEqual (given: string, expected: string): boolean {
  const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest()
  return timingSafeEqual(digest(given), digest(expected))
}
