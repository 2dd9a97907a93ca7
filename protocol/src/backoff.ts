/** Exponential reconnect backoff, shared by the SDK's and the edge's tracker sockets. */
export interface Backoff {
  /** The delay before the first retry (before jitter), in milliseconds. */
  minMs: number
  /** The most any delay grows to (before jitter), in milliseconds. */
  maxMs: number
}

/** Doubling stops here: 2 ** 16 times the minimum is past any sensible maximum. */
const MAX_DOUBLINGS = 16

/**
 * The delay before retry number `attempt` (0 for the first): "equal jitter", half the
 * backoff fixed and half random, so a restarted tracker does not see every client come
 * back in the same millisecond, and no client retries sooner than half its backoff.
 */
export function backoffDelayMs(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.min(attempt, MAX_DOUBLINGS))
  return ceiling / 2 + (random() * ceiling) / 2
}
