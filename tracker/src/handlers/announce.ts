/**
 * `announce` without `answer`: join / refresh / leave a swarm, and forward the offers it
 * carries. Replies and forwards match bittorrent-tracker's `server.js`
 * `_onWebSocketRequest`, plus `min interval`, `warning message` and the p2pcdn `region`.
 *
 * This is the hot path: replies are built by concatenating cached JSON pieces, and the
 * only per-announce allocations are the reply string and the small target array.
 */
import type { AnnounceRequest, OfferEntry } from '../../../protocol/src/index.js'
import { MAX_ANSWER_CREDITS, OFFER_TIMEOUT_MS } from '../budget.js'
import type { Connection } from '../connection.js'
import {
  MAX_PEER_IDS_PER_SOCKET_SWARM,
  forgetPeer,
  hasPeerId,
  isReading,
  peerIdCount,
  rememberPeer
} from '../connection.js'
import { Refusal } from '../refusal.js'
import { DEFAULT_REGION } from '../swarm.js'
import type { Swarm, SwarmPeer } from '../swarm.js'
import { announceInCluster } from './announce-cluster.js'
import { announceReply, offerForward } from './announce-frames.js'
import type { TrackerContext } from './context.js'

/**
 * Update the swarm, reply with its counts, then forward the offers. `limitWarning` says
 * the socket is over its rate and goes into the reply's `warning message`.
 */
export function handleAnnounce(
  ctx: TrackerContext,
  conn: Connection,
  msg: AnnounceRequest,
  limitWarning?: string
): void {
  // The region rules, when they know the address, win over what the client claims.
  const region = conn.mappedRegion ?? msg.region ?? conn.region ?? DEFAULT_REGION
  checkSocketLimits(ctx, conn, msg)
  const swarm = ctx.swarms.getOrCreate(msg.info_hash)
  if (ctx.cluster !== undefined) checkClusterCap(ctx, swarm, msg)
  let peer: SwarmPeer<Connection> | undefined
  try {
    peer = swarm.announce({
      peerId: msg.peer_id,
      event: msg.event,
      left: msg.left,
      region,
      handle: conn,
      source: conn.address.key,
      asn: conn.asn
    })
  } catch (err) {
    ctx.swarms.deleteIfEmpty(swarm)
    throw err
  }
  if (peer === undefined) forgetPeer(conn, msg.info_hash, msg.peer_id)
  else rememberPeer(conn, msg.info_hash, msg.peer_id)
  conn.region = region
  ctx.metrics.announces++

  const offers = peer === undefined ? undefined : msg.offers
  const wanted = offers === undefined ? 0 : offerLimit(ctx, msg, offers)
  // The client's own numwant needs no warning; our cap cutting its offers does.
  const capWarning =
    offers !== undefined && offers.length > ctx.config.maxOffersPerAnnounce
      ? `only ${ctx.config.maxOffersPerAnnounce} of ${offers.length} offers are forwarded per announce`
      : undefined
  const warning =
    capWarning === undefined ? limitWarning : limitWarning === undefined ? capWarning : `${limitWarning}; ${capWarning}`

  if (ctx.cluster !== undefined) {
    announceInCluster(ctx, conn, msg, swarm, peer, region, wanted, warning)
    return
  }
  conn.sendText(announceReply(ctx, swarm, swarm.complete, swarm.incomplete, warning))
  // A stopped peer cannot take answers any more, so its offers would be wasted.
  if (peer !== undefined && offers !== undefined && wanted > 0) forwardOffers(ctx, swarm, peer, offers, wanted)
  ctx.swarms.deleteIfEmpty(swarm)
}

/**
 * How many offers to forward: no more than were sent, than the configured cap, or than
 * `numwant` when given. bittorrent-tracker ignores `numwant` on WebSockets; WebTorrent and
 * p2p-media-loader send it equal to the number of offers, so honouring it changes nothing
 * for them.
 */
function offerLimit(ctx: TrackerContext, msg: AnnounceRequest, offers: OfferEntry[]): number {
  let limit = Math.min(offers.length, ctx.config.maxOffersPerAnnounce)
  if (msg.numwant !== undefined) limit = Math.min(limit, Math.floor(msg.numwant))
  return limit
}

/**
 * Each offer goes to one distinct other peer, same network (ASN) then same region first,
 * never to a socket that is not reading (its backlog would only grow). Leftover offers are ignored.
 */
function forwardOffers(
  ctx: TrackerContext,
  swarm: Swarm<Connection>,
  from: SwarmPeer<Connection>,
  offers: OfferEntry[],
  wanted: number
): void {
  const targets: Array<SwarmPeer<Connection>> = []
  swarm.choosePeers(from, from.region, ctx.config.regions.neighbours(from.region), wanted, targets, isReading)
  const peerIdJson = JSON.stringify(from.peerId)
  const now = ctx.now()
  for (let i = 0; i < targets.length; i++) {
    const target = targets[i]!.handle
    target.answerCredits.grant(now, OFFER_TIMEOUT_MS, MAX_ANSWER_CREDITS)
    target.sendText(offerForward(offers[i]!, peerIdJson, swarm.infoHashJson, from.region))
  }
  ctx.metrics.offersRelayed += targets.length
}

/**
 * The swarm cap counts the peers of other processes too, as last counted (at most
 * COUNTS_CACHE_MS old): so it holds cluster-wide only approximately, overshooting by
 * the joins that other processes accept within that second.
 */
function checkClusterCap(ctx: TrackerContext, swarm: Swarm<Connection>, msg: AnnounceRequest): void {
  if (msg.event === 'stopped' || swarm.get(msg.peer_id) !== undefined) return
  if (swarm.size + ctx.cluster!.remotePeers(msg.info_hash) < ctx.config.maxPeersPerSwarm) return
  ctx.swarms.deleteIfEmpty(swarm)
  throw new Refusal('swarm-full', 'swarm is full; try again later')
}

/** Refuse joining one swarm too many, or one peer id too many in a swarm. */
function checkSocketLimits(ctx: TrackerContext, conn: Connection, msg: AnnounceRequest): void {
  if (msg.event === 'stopped') return
  const peerIds = conn.swarms.get(msg.info_hash)
  if (peerIds === undefined) {
    if (conn.swarms.size >= ctx.config.maxSwarmsPerSocket) {
      throw new Refusal('too-many-swarms', `this connection is already in ${ctx.config.maxSwarmsPerSocket} swarms`)
    }
  } else if (!hasPeerId(peerIds, msg.peer_id) && peerIdCount(peerIds) >= MAX_PEER_IDS_PER_SOCKET_SWARM) {
    throw new Refusal(
      'too-many-swarms',
      `this connection already uses ${MAX_PEER_IDS_PER_SOCKET_SWARM} peer ids in this swarm`
    )
  }
}
