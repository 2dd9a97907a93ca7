import { ProtocolError } from '../../protocol/src/index.js'
import type { RefusalReason as WireRefusalReason } from '../../protocol/src/index.js'
import type { BacklogDropReason } from './backlog.js'

/**
 * Why the tracker refused a request; the `reason` label of the rejects metric. Those of
 * a reply (protocol's RefusalReason) go out as its `reason`; a backlog drop has no reply.
 */
export type RefusalReason = WireRefusalReason | BacklogDropReason

/** A well-formed request the tracker will not serve (code ERR_PROTOCOL), with its reason (sent as `reason`). */
export class Refusal extends ProtocolError {
  readonly reason: WireRefusalReason
  constructor(reason: WireRefusalReason, message: string) {
    super(message)
    this.reason = reason
    this.name = 'Refusal'
  }
}

/**
 * The first socket owns a peer id until it leaves; otherwise anyone who learnt an id from
 * an offer could take over that peer's offers and answers.
 */
export function peerIdTaken(): Refusal {
  return new Refusal('peer-id-taken', 'peer_id is already in this swarm on another connection')
}
