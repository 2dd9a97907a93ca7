/** Secrets: digests, constant-time comparisons, and the edge challenge's MAC. */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { EDGE_CHALLENGE_CONTEXT } from '../../protocol/src/index.js'

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/**
 * Whether two strings or digests are equal, in time that depends on their lengths only.
 * For secrets, compare their digests (`secretEquals`) so the length says nothing either.
 */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const x = typeof a === 'string' ? Buffer.from(a, 'utf8') : a
  const y = typeof b === 'string' ? Buffer.from(b, 'utf8') : b
  return x.length === y.length && timingSafeEqual(x, y)
}

/** A presented secret against the expected one, through their SHA-256 digests. */
export function secretEquals(given: string, expected: string): boolean {
  return constantTimeEqual(sha256(given), sha256(expected))
}

/**
 * The answer to the tracker's reachability challenge: an HMAC under the SHA-256 of the
 * edge's credential (`key`), over the context, the edge's id and the tracker's nonce.
 */
export function challengeMac(key: Buffer, id: string | undefined, nonce: string): string {
  return createHmac('sha256', key)
    .update(`${EDGE_CHALLENGE_CONTEXT}\n${id ?? ''}\n${nonce}`, 'utf8')
    .digest('base64url')
}
