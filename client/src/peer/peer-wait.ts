import type { Swarm } from './swarm.js'

/** How often a fetch waiting for peers re-checks whether they have all spoken. */
const PEER_WAIT_CHECK_MS = 50

export interface PeerWaitInit {
  swarm: Swarm
  resourceId: string
  /** The first chunk the fetch needs: a peer holding it ends the wait at once. */
  first: number
  maxPeers: number
  waitMs: number
  signal: AbortSignal
  /** False once the swarm was left (consent withdrawn, destroy). */
  current: () => boolean
}

/**
 * Give the swarm's other peers up to `waitMs` to connect and say what they hold, else
 * the first chunks of a fetch would all go to HTTP. Ends early when a peer has the
 * first chunk, when the tracker says nobody else is there, or when every peer we could
 * get is connected, none is still connecting, and each has sent its HAVEs (HAVE_END).
 */
export async function awaitPeers ({ swarm, resourceId, first, maxPeers, waitMs, signal, current }: PeerWaitInit): Promise<void> {
  const settled = (): boolean => {
    if (!current() || signal.aborted) return true
    if (!swarm.announced) return false
    if (swarm.others === 0) return true
    const peers = [...swarm.peers.values()]
    if (peers.some(p => p.has(resourceId, first))) return true
    const reachable = Math.min(swarm.others, maxPeers)
    return swarm.connecting === 0 && peers.length >= reachable && peers.every(p => p.haveComplete)
  }
  const deadline = performance.now() + waitMs
  while (!settled() && performance.now() < deadline) await new Promise(resolve => setTimeout(resolve, PEER_WAIT_CHECK_MS))
}
