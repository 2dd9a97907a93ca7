/**
 * The p2pcdn edge actions: an edge registers (with its id and own secret from the edges
 * file, or with the shared token), passes the reachability challenge, and reports its
 * load (which doubles as its heartbeat); any client may ask for the healthy edges.
 */
import { PROTOCOL_VERSION, errorMessageOf } from '../../../protocol/src/index.js'
import type { EdgeInfo, EdgeLoadRequest, EdgeRegisterRequest, EdgesRequest } from '../../../protocol/src/index.js'
import { sha256 } from '../../../service/src/secret.js'
import { exactOrigin, secretMatches } from '../edge-identities.js'
import { orderEdges } from '../edge-registry.js'
import type { Connection } from '../connection.js'
import { Refusal } from '../refusal.js'
import type { TrackerContext } from './context.js'
import { replyFailure } from './failure.js'

/** Compared against when the id is unknown, so that an unknown id costs what a wrong secret does. */
const NO_SUCH_EDGE_HASH = sha256('no such edge')

const refused = (why: string): Refusal => new Refusal('edge-refused', `edge registration refused: ${why}`)

/**
 * Register the edge behind `conn`: check its credentials and the URL it claims, hold the
 * claim, and list it once it answers the challenge at that URL (when `edgeChallenge`).
 * Throws a Refusal for what can be refused at once; a failed challenge is replied later.
 */
export function handleEdgeRegister(ctx: TrackerContext, conn: Connection, msg: EdgeRegisterRequest): void {
  const { id, key } = authenticate(ctx, msg)
  const url = claimedUrl(ctx, id, msg.url)
  if (ctx.edges.isPending(conn)) throw refused('a registration is already in progress on this connection')
  const conflict = ctx.edges.claim(conn, { id, url }, ctx.now())
  if (conflict !== undefined) {
    ctx.log.edges.info('edge-refused', { conn: conn.id, id, url, reason: conflict })
    throw refused(conflict)
  }
  const edge = { id, url, region: msg.region, capacity: msg.capacity }
  const list = (): void => {
    // False when the socket closed during the challenge: nothing to list or answer.
    if (!ctx.edges.register(conn, edge, ctx.now())) return
    shareEdge(ctx, conn)
    conn.send({ action: 'p2pcdn:edge-registered', v: PROTOCOL_VERSION, heartbeatMs: ctx.config.edgeHeartbeatMs })
    ctx.log.edges.info('edge-registered', { conn: conn.id, id, url, region: msg.region, capacity: msg.capacity })
  }
  if (!ctx.config.edgeChallenge) {
    list()
    return
  }
  ctx.edgeChallenger.check(url, id, key).then(list, (err: unknown) => {
    ctx.edges.release(conn)
    ctx.log.edges.info('edge-refused', {
      conn: conn.id,
      id,
      url,
      reason: errorMessageOf(err)
    })
    replyFailure(ctx, conn, err, msg)
  })
}

/**
 * Who is registering, and the key its challenge answer is checked with: the edge of the
 * edges file named by `id` if `token` is its secret, else an edge of the shared token.
 */
function authenticate(ctx: TrackerContext, msg: EdgeRegisterRequest): { id: string | undefined; key: Buffer } {
  const { edges, edgeToken } = ctx.config
  if (msg.id !== undefined) {
    if (edges.size === 0) throw refused('this tracker has no edges file; register with the shared token and no id')
    const identity = edges.get(msg.id)
    // Checked even for an unknown id, and one reply for both, so neither timing nor
    // wording tells a guesser which ids exist.
    const match = secretMatches(msg.token, identity?.secretHash ?? NO_SUCH_EDGE_HASH)
    if (identity === undefined || !match) throw refused('unknown edge id or wrong secret')
    return { id: identity.id, key: identity.secretHash }
  }
  if (edges.size > 0 && (edgeToken === undefined || !ctx.config.allowSharedEdgeToken)) {
    throw refused('this tracker lists its edges: register with an edge id and its secret')
  }
  if (edgeToken === undefined) throw refused('no edge token is configured on this tracker')
  if (!secretMatches(msg.token, sha256(edgeToken))) throw refused('wrong token')
  return { id: undefined, key: sha256(edgeToken) }
}

/**
 * The URL an edge may be listed at: for an edge of the edges file, one of its own
 * origins exactly; for a shared-token edge, anything not listed for an edge of the file.
 */
function claimedUrl(ctx: TrackerContext, id: string | undefined, url: string): string {
  const edges = ctx.config.edges
  if (id !== undefined) {
    const origin = exactOrigin(url)
    if (origin === undefined || edges.get(id)?.urls.has(origin) !== true)
      throw refused(`${url} is not listed for edge "${id}"`)
    return origin
  }
  let origin: string
  try {
    origin = new URL(url).origin
  } catch {
    throw refused(`${url} is not a URL`)
  }
  for (const identity of edges.values()) {
    if (identity.urls.has(origin)) throw refused(`${origin} belongs to edge "${identity.id}" of the edges file`)
  }
  return url
}

/** Record load and last-seen; refuses (`edge-not-registered`) a connection with no edge. */
export function handleEdgeLoad(ctx: TrackerContext, conn: Connection, msg: EdgeLoadRequest): void {
  if (!ctx.edges.reportLoad(conn, msg, ctx.now())) {
    // Also what an edge sees after it was dropped for missing heartbeats: register again.
    throw new Refusal('edge-not-registered', 'edge load refused: this connection has no registered edge')
  }
  shareEdge(ctx, conn)
}

/** In cluster mode every load report refreshes the edge's expiring key in Redis. */
function shareEdge(ctx: TrackerContext, conn: Connection): void {
  const edge = ctx.edges.get(conn)
  if (ctx.cluster !== undefined && edge !== undefined) ctx.cluster.edgeUpdated(edge)
}

/** Healthy edges for `region`: this process's, or the whole cluster's. Neighbours follow the region. */
export async function listEdges(ctx: TrackerContext, region: string | undefined): Promise<EdgeInfo[]> {
  const neighbours = region === undefined ? [] : ctx.config.regions.neighbours(region)
  if (ctx.cluster === undefined) return ctx.edges.list(region, ctx.now(), neighbours)
  return orderEdges(await ctx.cluster.edges(), region, neighbours)
}

/** Reply with healthy edges, the requested (or announced) region first. */
export function handleEdgesRequest(ctx: TrackerContext, conn: Connection, msg: EdgesRequest): void {
  listEdges(ctx, msg.region ?? conn.region).then(
    edges => {
      conn.send({ action: 'p2pcdn:edges', v: PROTOCOL_VERSION, edges })
    },
    (err: unknown) => {
      ctx.log.edges.warn('edge-list-failed', { conn: conn.id, error: errorMessageOf(err) })
      conn.send({ 'failure reason': 'edge list unavailable', action: 'p2pcdn:edges' })
    }
  )
}
