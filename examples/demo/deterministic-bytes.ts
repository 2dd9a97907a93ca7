import { createHash } from 'node:crypto'

/** `size` pseudo-random bytes that are the same for the same `seed` (SHA-256 in counter mode). */
export function deterministicBytes(size: number, seed: string): Uint8Array {
  const out = new Uint8Array(size)
  for (let i = 0; i * 32 < size; i++)
    out.set(
      createHash('sha256')
        .update(`${seed}-${i}`)
        .digest()
        .subarray(0, Math.min(32, size - i * 32)),
      i * 32
    )
  return out
}
