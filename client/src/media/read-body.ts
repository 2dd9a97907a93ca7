import { concatBytes } from '../bytes.js'

/**
 * A response's whole body as one buffer, `onPiece` told of each piece as it arrives:
 * players watch a load's progress (hls.js's ABR reads `stats.loaded` mid-load, Shaka's
 * samples bandwidth from progress events).
 */
export async function readBody(res: Response, onPiece: (bytes: number) => void): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = []
  const reader = res.body?.getReader()
  if (reader !== undefined)
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      parts.push(value)
      onPiece(value.length)
    }
  return concatBytes(parts)
}

/** Bytes the response says it carries (a 206: its range's), from Content-Length; 0 when unknown. */
export function bodyLength(res: Response): number {
  const n = Number(res.headers.get('Content-Length') ?? 0)
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}
