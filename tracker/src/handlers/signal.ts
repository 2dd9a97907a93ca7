/**
 * `announce` with `answer`: relay it to the peer that made the offer. As in
 * bittorrent-tracker, the answerer gets no reply, and an answer for a peer that is gone
 * is dropped: the offerer's offer simply times out.
 */
import { binaryStringToHex } from '../../../protocol/src/index.js'
import type { AnswerRequest } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import type { TrackerContext } from './context.js'

/** Relay an answer to `to_peer_id` in the same swarm; no reply to the sender. */
export function handleAnswer (ctx: TrackerContext, conn: Connection, msg: AnswerRequest): void {
  const target = ctx.swarms.get(msg.info_hash)?.get(msg.to_peer_id)
  const fields = {
    conn: conn.id,
    infoHash: binaryStringToHex(msg.info_hash),
    from: binaryStringToHex(msg.peer_id),
    to: binaryStringToHex(msg.to_peer_id)
  }
  if (target === undefined) {
    ctx.log.signal.debug('answer-dropped', { ...fields, reason: 'unknown to_peer_id' })
    return
  }
  target.handle.send({
    action: 'announce',
    answer: msg.answer,
    offer_id: msg.offer_id,
    peer_id: msg.peer_id,
    info_hash: msg.info_hash
  })
  ctx.log.signal.debug('answer-relayed', fields)
}
