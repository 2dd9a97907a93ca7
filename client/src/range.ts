/** Bytes `[start, end)` of a resource. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * The byte range a `Range` request header asks of a resource of `size` bytes
 * (RFC 9110 §14.1.2): `bytes=a-b`, `bytes=a-` or `bytes=-n`. Returns `undefined` for no
 * header or one we do not honour (several ranges, other units): like a server, we then
 * answer the whole resource. Returns `'unsatisfiable'` for a range wholly past the end.
 */
export function parseRange(header: string | null, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (header === null) return undefined
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header)
  if (m === null || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size }
  }
  const start = Number(m[1])
  const last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  if (m[2] !== '' && Number(m[2]) < start) return undefined // invalid: ignored, per RFC 9110
  if (start >= size) return 'unsatisfiable'
  return { start, end: last + 1 }
}

/** First and last chunk index holding bytes of `range` (which is non-empty). */
export function chunksOf(range: ByteRange, chunkSize: number): { first: number; last: number } {
  return { first: Math.floor(range.start / chunkSize), last: Math.floor((range.end - 1) / chunkSize) }
}
