/** Constant-time comparisons of secrets and of values derived from them. */
import { createHash, timingSafeEqual } from 'node:crypto'

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
