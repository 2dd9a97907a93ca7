/**
 * Message budgets: one token bucket per socket and one per client address, shared by all
 * of that address's sockets, plus free answers for offers the tracker forwarded.
 *
 * A bucket may run into debt before it refuses: the first `burst` messages beyond the
 * rate are still served with a `warning message`, only then are messages refused. A
 * bittorrent-tracker client (webtorrent, p2p-media-loader, PeerTube) shows a warning and
 * goes on, where a bare refusal of one of the 40 torrents sharing its socket would cost
 * that torrent its turn; only a client that keeps going past the warnings hears "no".
 */

/** A token bucket: `level` tokens at `atMs`; below zero is debt. */
export interface Bucket {
  level: number
  atMs: number
}

export function createBucket(burst: number, nowMs: number): Bucket {
  return { level: burst, atMs: nowMs }
}

/** Top `bucket` up for the time since it was last topped up, to at most `burst`. */
export function refill(bucket: Bucket, nowMs: number, perSecond: number, burst: number): void {
  if (nowMs <= bucket.atMs) return
  bucket.level = Math.min(burst, bucket.level + ((nowMs - bucket.atMs) * perSecond) / 1000)
  bucket.atMs = nowMs
}

/**
 * Whether `bucket` has a whole token for one more message, counting a debt of up to
 * `burst` tokens: `burst` messages from a full bucket, as many again in debt.
 */
export function hasRoom(bucket: Bucket, burst: number): boolean {
  return bucket.level >= 1 - burst
}

/**
 * How a tracker that forwarded offers to a socket lets it answer them for free: each
 * offer forwarded grants one answer, for one or two `windowMs` (two windows, so the
 * state is two counters rather than one entry per offer). Popular seeders answer the
 * most offers; charging those answers to the announce budget throttled exactly them.
 */
export class AnswerCredits {
  #current = 0
  #previous = 0
  #windowAtMs = 0

  /** One more offer was forwarded to this socket. Capped, so a count cannot grow without end. */
  grant(nowMs: number, windowMs: number, max: number): void {
    this.#rotate(nowMs, windowMs)
    if (this.#current + this.#previous < max) this.#current++
  }

  /** Spend one credit if there is one left in the last two windows. */
  take(nowMs: number, windowMs: number): boolean {
    this.#rotate(nowMs, windowMs)
    if (this.#previous > 0) {
      this.#previous--
      return true
    }
    if (this.#current > 0) {
      this.#current--
      return true
    }
    return false
  }

  /** Credits left, without expiring any (a cheap test on the message path). */
  get any(): boolean {
    return this.#current + this.#previous > 0
  }

  #rotate(nowMs: number, windowMs: number): void {
    const age = nowMs - this.#windowAtMs
    if (age < windowMs) return
    this.#previous = age < 2 * windowMs ? this.#current : 0
    this.#current = 0
    this.#windowAtMs = nowMs
  }
}

/**
 * bittorrent-tracker's client gives up on an offer after 50 s (`OFFER_TIMEOUT` in
 * lib/client/websocket-tracker.js); an answer later than that reaches nobody anyway.
 */
export const OFFER_TIMEOUT_MS = 50_000

/** Most free answers one socket may hold; far above any real seeder's offers in 100 s. */
export const MAX_ANSWER_CREDITS = 10_000
