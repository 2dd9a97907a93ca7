/**
 * The announce reply and the forwarded offer as they go on the wire, built by
 * concatenating cached JSON pieces: this is the tracker's hot path, and JSON.stringify of
 * the same objects costs several times more. Shared by the local and the cluster announce.
 */
import type { OfferEntry } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import type { Swarm } from '../swarm.js'
import type { TrackerContext } from './context.js'

/** The announce reply, by concatenation (JSON.stringify of the same object costs several times more). */
export function announceReply(
  ctx: TrackerContext,
  swarm: Swarm<Connection>,
  complete: number,
  incomplete: number,
  warning: string | undefined
): string {
  const tail = warning === undefined ? '}' : `,"warning message":${JSON.stringify(warning)}}`
  return `${ctx.announceReplyHead}${swarm.infoHashJson},"complete":${complete},"incomplete":${incomplete}${tail}`
}

/** An offer as the receiving peer gets it. */
export function offerForward(entry: OfferEntry, peerIdJson: string, infoHashJson: string, region: string): string {
  return `{"action":"announce","offer":{"type":"offer","sdp":${JSON.stringify(entry.offer.sdp)}},"offer_id":${JSON.stringify(entry.offer_id)},"peer_id":${peerIdJson},"info_hash":${infoHashJson},"region":${JSON.stringify(region)}}`
}
