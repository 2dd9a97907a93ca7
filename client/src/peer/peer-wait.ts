/** What the wait reads of a connected peer (a `Peer`). */
export interface WaitPeer {
  has: (resourceId: string, index: number) => boolean
  readonly haveComplete: boolean
  readonly openedAt: number
}

/** What the wait reads of the swarm (a `Swarm`): counts and signs of life, nothing else. */
export interface WaitSwarm {
  readonly announced: boolean
  readonly announcedAt: number
  readonly others: number
  readonly connecting: number
  readonly peers: ReadonlyMap<string, WaitPeer>
  /** Attempts with a sign of life at or after `since`; our unanswered offers count from `offeredSince`. */
  attemptsSince: (since: number, offeredSince: number) => number
}

/** How often a fetch waiting for peers re-checks whether they have all spoken. */
const PEER_WAIT_CHECK_MS = 50
/**
 * An offer of ours nobody answered holds a fetch this long at most (or `connectMs` if
 * shorter). A peer that can connect answers through the tracker in a few hundred ms;
 * an id announced with nothing behind it never does, and must not cost every fetch
 * the whole `connectMs` that a connection being set up is given.
 */
export const OFFER_ANSWER_MS = 750

export interface PeerWaitInit {
  swarm: WaitSwarm
  resourceId: string
  /** The first chunk the fetch needs: a peer holding it ends the wait at once. */
  first: number
  maxPeers: number
  waitMs: number
  /** A connection attempt (or the tracker's first reply) holds the wait this long at most. */
  connectMs: number
  signal: AbortSignal
  /** False once the swarm was left (consent withdrawn, destroy). */
  current: () => boolean
}

/**
 * Give the swarm's other peers up to `waitMs` to connect and say what they hold, else
 * the first chunks of a fetch would all go to HTTP. Ends early when a peer has the
 * first chunk, when the tracker says nobody else is there, or when every peer we could
 * get is connected, none is still connecting, and each has sent its HAVEs (HAVE_END).
 *
 * Only peers that show life hold the wait: an open channel still sending its HAVEs, or
 * a connection attempt younger than `connectMs`. The tracker's count of others is not
 * proof of anyone: ids announced with no WebRTC behind them (a Sybil flood) leave our
 * offers unanswered, and once those are OFFER_ANSWER_MS old the fetch goes on.
 */
export async function awaitPeers({
  swarm,
  resourceId,
  first,
  maxPeers,
  waitMs,
  connectMs,
  signal,
  current
}: PeerWaitInit): Promise<void> {
  const settled = (): boolean => {
    if (!current() || signal.aborted) return true
    const fresh = performance.now() - connectMs
    // A tracker that does not answer our announce in time does not hold fetches either.
    if (!swarm.announced) return swarm.announcedAt < fresh
    if (swarm.others === 0) return true
    const peers = [...swarm.peers.values()]
    if (peers.some(p => p.has(resourceId, first))) return true
    if (peers.some(p => !p.haveComplete && p.openedAt >= fresh)) return false
    const reachable = Math.min(swarm.others, maxPeers)
    if (swarm.connecting === 0 && peers.length >= reachable) return true
    return swarm.attemptsSince(fresh, performance.now() - Math.min(connectMs, OFFER_ANSWER_MS)) === 0
  }
  const deadline = performance.now() + waitMs
  while (!settled() && performance.now() < deadline)
    await new Promise(resolve => setTimeout(resolve, PEER_WAIT_CHECK_MS))
}
