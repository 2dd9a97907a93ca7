/**
 * `announce` with `answer`: relay it to the peer that made the offer. As in
 * bittorrent-tracker, the answerer gets no reply, and an answer for a peer that is gone
 * is dropped quietly: the offerer's offer simply times out.
 *
 * Only a member may answer: the socket must have announced in this swarm with this
 * `peer_id`. Otherwise anyone could push answers at any peer whose id it learnt, and in
 * cluster mode in the name of another process's peer (the local swarm holds only this
 * process's own peers, so the check covers both).
 */
import type { AnswerRequest } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import { deliverLocal } from './announce-cluster.js'
import type { TrackerContext } from './context.js'
import { errorMessageOf } from '../../../protocol/src/index.js'

/** Relay an answer to `to_peer_id` in the same swarm; no reply to the sender. */
export function handleAnswer(ctx: TrackerContext, conn: Connection, msg: AnswerRequest): void {
  const swarm = ctx.swarms.get(msg.info_hash)
  const from = swarm?.get(msg.peer_id)
  if (from === undefined || from.handle !== conn) {
    ctx.metrics.signalsDropped++
    ctx.metrics.reject('not-in-swarm')
    return
  }
  // p2pcdn addition: the answerer's region, so the offerer can prefer same-region peers too.
  const text = answerForward(msg, from.region)
  const target = swarm!.get(msg.to_peer_id)
  if (target !== undefined) {
    target.handle.sendText(text)
    ctx.metrics.answersRelayed++
    return
  }
  const cluster = ctx.cluster
  if (cluster === undefined) {
    ctx.metrics.signalsDropped++
    return
  }
  cluster.locate(msg.info_hash, msg.to_peer_id).then(
    nodeId => {
      if (nodeId === undefined) ctx.metrics.signalsDropped++
      else if (nodeId === cluster.nodeId) deliverLocal(ctx, msg.info_hash, msg.to_peer_id, text)
      else {
        cluster.relay(nodeId, msg.info_hash, msg.to_peer_id, text)
        ctx.metrics.answersRelayed++
      }
    },
    (err: unknown) => {
      ctx.log.cluster.warn('answer-relay-failed', {
        conn: conn.id,
        error: errorMessageOf(err)
      })
    }
  )
}

function answerForward(msg: AnswerRequest, region: string): string {
  return `{"action":"announce","answer":{"type":"answer","sdp":${JSON.stringify(msg.answer.sdp)}},"offer_id":${JSON.stringify(msg.offer_id)},"peer_id":${JSON.stringify(msg.peer_id)},"info_hash":${JSON.stringify(msg.info_hash)},"region":${JSON.stringify(region)}}`
}
