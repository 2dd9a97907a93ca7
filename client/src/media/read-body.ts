/**
 * A response's whole body as one buffer, `onPiece` told of each piece as it arrives:
 * players watch a load's progress (hls.js's ABR reads `stats.loaded` mid-load, Shaka's
 * samples bandwidth from progress events).
 */
export async function readBody(res: Response, onPiece: (bytes: number) => void): Promise<Uint8Array<ArrayBuffer>> {
  const parts: Uint8Array[] = []
  let loaded = 0
  const reader = res.body?.getReader()
  if (reader !== undefined)
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      parts.push(value)
      loaded += value.length
      onPiece(value.length)
    }
  const out = new Uint8Array(loaded)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
