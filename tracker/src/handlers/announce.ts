/**
 * `announce` without `answer`: join / refresh / leave a swarm, and forward the offers it
 * carries. Replies and forwards match bittorrent-tracker's `server.js`
 * `_onWebSocketRequest`, plus the p2pcdn `region`.
 */
import { binaryStringToHex } from '../../../protocol/src/index.js'
import type { AnnounceRequest } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import type { Swarm, SwarmPeer } from '../swarm.js'
import type { TrackerContext } from './context.js'

/** Update the swarm, reply with its counts, then forward the offers. */
export function handleAnnounce (ctx: TrackerContext, conn: Connection, msg: AnnounceRequest): void {
  const swarm = ctx.swarms.getOrCreate(msg.info_hash)
  const peer = swarm.announce({
    peerId: msg.peer_id,
    event: msg.event,
    left: msg.left,
    region: msg.region,
    handle: conn
  })
  if (peer === undefined) forget(conn, msg.info_hash, msg.peer_id)
  else remember(conn, msg.info_hash, msg.peer_id)
  if (msg.region !== undefined) conn.region = msg.region

  conn.send({
    action: 'announce',
    info_hash: msg.info_hash,
    interval: ctx.config.announceIntervalS,
    complete: swarm.complete,
    incomplete: swarm.incomplete
  })
  ctx.log.announce.debug('announce', {
    conn: conn.id,
    infoHash: binaryStringToHex(msg.info_hash),
    peerId: binaryStringToHex(msg.peer_id),
    event: msg.event ?? 'update',
    complete: swarm.complete,
    incomplete: swarm.incomplete
  })

  // A stopped peer cannot take answers any more, so its offers would be wasted.
  if (peer !== undefined && msg.offers !== undefined && msg.offers.length > 0) {
    forwardOffers(ctx, swarm, peer, msg)
  }
  ctx.swarms.deleteIfEmpty(msg.info_hash)
}

/** Each offer goes to one distinct other peer, same region first. Leftover offers are ignored. */
function forwardOffers (ctx: TrackerContext, swarm: Swarm<Connection>, from: SwarmPeer<Connection>, msg: AnnounceRequest): void {
  const offers = (msg.offers ?? []).slice(0, ctx.config.maxOffersPerAnnounce)
  // bittorrent-tracker ignores `numwant` on WebSocket announces and sends as many peers as
  // there are offers; clients set numwant to the number of offers anyway.
  const targets = swarm.choosePeers(from.peerId, from.region, offers.length)
  targets.forEach((target, i) => {
    const entry = offers[i]!
    target.handle.send({
      action: 'announce',
      offer: entry.offer,
      offer_id: entry.offer_id,
      peer_id: from.peerId,
      info_hash: msg.info_hash,
      region: from.region
    })
  })
  ctx.log.announce.debug('offers-forwarded', {
    conn: from.handle.id,
    infoHash: binaryStringToHex(msg.info_hash),
    offers: msg.offers?.length ?? 0,
    forwarded: targets.length,
    sameRegion: targets.filter(t => t.region === from.region).length
  })
}

function remember (conn: Connection, infoHash: string, peerId: string): void {
  let peerIds = conn.swarms.get(infoHash)
  if (peerIds === undefined) {
    peerIds = new Set()
    conn.swarms.set(infoHash, peerIds)
  }
  peerIds.add(peerId)
}

function forget (conn: Connection, infoHash: string, peerId: string): void {
  const peerIds = conn.swarms.get(infoHash)
  if (peerIds === undefined) return
  peerIds.delete(peerId)
  if (peerIds.size === 0) conn.swarms.delete(infoHash)
}
