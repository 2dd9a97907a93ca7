/**
 * The announce in cluster mode: the local swarm still owns the socket-side state (who may
 * use which peer id, where to deliver), while counts and offer targets come from the
 * whole cluster through Redis. Offers for peers of other processes are relayed to them.
 * A peer id is bound cluster-wide: one another process holds is refused here, after the
 * claim, and undone locally.
 */
import type { AnnounceRequest } from '../../../protocol/src/index.js'
import type { ClusterPeer } from '../cluster.js'
import type { Connection } from '../connection.js'
import { forgetPeer, isReading } from '../connection.js'
import { peerIdTaken } from '../refusal.js'
import type { Swarm, SwarmPeer } from '../swarm.js'
import { MAX_ANSWER_CREDITS, OFFER_TIMEOUT_MS } from '../budget.js'
import { announceReply, offerForward } from './announce-frames.js'
import type { TrackerContext } from './context.js'
import { replyFailure } from './failure.js'
import { errorMessageOf } from '../../../protocol/src/index.js'

export function announceInCluster(
  ctx: TrackerContext,
  conn: Connection,
  msg: AnnounceRequest,
  swarm: Swarm<Connection>,
  peer: SwarmPeer<Connection> | undefined,
  region: string,
  wanted: number,
  warning: string | undefined
): void {
  const cluster = ctx.cluster!
  // A leave is written before the reply: whoever the client hands its id to next may claim it at once.
  const updated =
    peer === undefined
      ? cluster.peerLeft(msg.info_hash, msg.peer_id, region).then(() => true)
      : cluster.peerUpdated(msg.info_hash, msg.peer_id, peer.region, peer.complete, peer.asn)
  ctx.swarms.deleteIfEmpty(swarm)
  const offering = peer !== undefined && msg.offers !== undefined && wanted > 0

  // The common re-announce: nothing changed and the counts are cached, so the reply (and the
  // offers, when the peer samples are cached too) go out in this turn without a promise.
  if (updated === true) {
    const counts = cluster.counts(msg.info_hash)
    if (!(counts instanceof Promise)) {
      conn.sendText(announceReply(ctx, swarm, counts.complete, counts.incomplete, warning))
      if (offering) sendOffers(ctx, conn, msg, swarm, peer, region, wanted)
      return
    }
  }

  const run = async (): Promise<void> => {
    if (!(await updated)) {
      swarm.remove(msg.peer_id, conn)
      forgetPeer(conn, msg.info_hash, msg.peer_id)
      ctx.swarms.deleteIfEmpty(swarm)
      replyFailure(ctx, conn, peerIdTaken(), msg)
      return
    }
    // This process's own counts are exact, so they include this update already.
    const counts = await cluster.counts(msg.info_hash)
    conn.sendText(announceReply(ctx, swarm, counts.complete, counts.incomplete, warning))
    if (offering) sendOffers(ctx, conn, msg, swarm, peer, region, wanted)
  }
  run().catch((err: unknown) => announceFailed(ctx, conn, msg, err))
}

/** Choose `wanted` peers cluster-wide and forward them `msg`'s offers, in this turn when the samples allow. */
function sendOffers(
  ctx: TrackerContext,
  conn: Connection,
  msg: AnnounceRequest,
  swarm: Swarm<Connection>,
  peer: SwarmPeer<Connection>,
  region: string,
  wanted: number
): void {
  const cluster = ctx.cluster!
  const forward = (targets: ClusterPeer[]): void => {
    const peerIdJson = JSON.stringify(peer.peerId)
    targets.forEach((target, i) => {
      const text = offerForward(msg.offers![i]!, peerIdJson, swarm.infoHashJson, region)
      if (target.nodeId === cluster.nodeId) deliverLocal(ctx, msg.info_hash, target.peerId, text)
      else cluster.relay(target.nodeId, msg.info_hash, target.peerId, text)
    })
    ctx.metrics.offersRelayed += targets.length
  }
  try {
    const targets = cluster.choosePeers(
      msg.info_hash,
      msg.peer_id,
      region,
      ctx.config.regions.neighbours(region),
      wanted,
      conn.asn
    )
    if (targets instanceof Promise) targets.then(forward, (err: unknown) => announceFailed(ctx, conn, msg, err))
    else forward(targets)
  } catch (err) {
    announceFailed(ctx, conn, msg, err)
  }
}

function announceFailed(ctx: TrackerContext, conn: Connection, msg: AnnounceRequest, err: unknown): void {
  ctx.log.cluster.warn('announce-failed', { conn: conn.id, error: errorMessageOf(err) })
  conn.send({ 'failure reason': 'tracker cluster unavailable', action: 'announce', info_hash: msg.info_hash })
}

/** How every forwarded offer starts (`offerForward`); answers start with `"answer"` instead. */
const OFFER_PREFIX = '{"action":"announce","offer":'

/**
 * Send `text` (an offer or an answer, from this process or relayed by another) to the
 * local socket of `peerId` in `infoHash`; false when it has gone. An offer earns its
 * target a free answer, and is not sent to a socket that is not reading.
 */
export function deliverLocal(ctx: TrackerContext, infoHash: string, peerId: string, text: string): boolean {
  const target = ctx.swarms.get(infoHash)?.get(peerId)
  if (target === undefined) {
    ctx.metrics.signalsDropped++
    return false
  }
  if (text.startsWith(OFFER_PREFIX)) {
    if (!isReading(target.handle)) {
      ctx.metrics.signalsDropped++
      return false
    }
    target.handle.answerCredits.grant(ctx.now(), OFFER_TIMEOUT_MS, MAX_ANSWER_CREDITS)
  }
  target.handle.sendText(text)
  return true
}
