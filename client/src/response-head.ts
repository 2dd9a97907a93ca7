import type { Manifest } from '../../protocol/src/index.js'
import { parseRange, type ByteRange } from './range.js'

/** Status and headers of the `Response` for a manifest and the request's `Range` header. */
export interface ResponseHead {
  status: 200 | 206 | 416
  headers: Record<string, string>
  /** Bytes of the resource the body carries (empty for 416). */
  want: ByteRange
}

/**
 * What `cdn.fetch` answers, as a server would (RFC 9110 §15.3.7): 200 with the whole
 * resource, 206 with `Content-Range` for a single satisfiable range, 416 past the end.
 */
export function responseHead(
  manifest: Pick<Manifest, 'size' | 'type' | 'etag'>,
  rangeHeader: string | null
): ResponseHead {
  const range = parseRange(rangeHeader, manifest.size)
  const headers: Record<string, string> = { 'Content-Type': manifest.type, 'Accept-Ranges': 'bytes' }
  if (manifest.etag !== '') headers.ETag = manifest.etag
  if (range === 'unsatisfiable') {
    return {
      status: 416,
      headers: { ...headers, 'Content-Range': `bytes */${manifest.size}` },
      want: { start: 0, end: 0 }
    }
  }
  const want = range ?? { start: 0, end: manifest.size }
  headers['Content-Length'] = String(want.end - want.start)
  if (range === undefined) return { status: 200, headers, want }
  return {
    status: 206,
    headers: { ...headers, 'Content-Range': `bytes ${want.start}-${want.end - 1}/${manifest.size}` },
    want
  }
}
