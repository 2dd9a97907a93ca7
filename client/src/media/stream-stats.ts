import { emptyBytes, type Source, type StreamStats } from '../types.js'

/** Streams whose figures are kept; a page that plays more drops the least recently used. */
export const MAX_STREAMS = 32

type Figures = Omit<StreamStats, 'offload'>

/** Figures per stream name, bounded by MAX_STREAMS. */
export class StreamBook {
  readonly #streams = new Map<string, Figures>()

  count(stream: string, source: Source, bytes: number): void {
    this.#of(stream).bytes[source] += bytes
  }

  segment(stream: string): void {
    this.#of(stream).segments++
  }

  stallBegan(stream: string): void {
    this.#of(stream).stalls++
  }

  stallEnded(stream: string, ms: number): void {
    this.#of(stream).stalledMs += ms
  }

  started(stream: string, ms: number): void {
    this.#of(stream).startupMs ??= ms
  }

  snapshot(): Record<string, StreamStats> {
    const out: Record<string, StreamStats> = {}
    for (const [name, f] of this.#streams) {
      const network = f.bytes.peer + f.bytes.edge + f.bytes.origin
      out[name] = { ...f, bytes: { ...f.bytes }, offload: network === 0 ? 0 : f.bytes.peer / network }
    }
    return out
  }

  #of(stream: string): Figures {
    let f = this.#streams.get(stream)
    if (f !== undefined) {
      // Re-inserted: insertion order is recency.
      this.#streams.delete(stream)
    } else f = { bytes: emptyBytes(), segments: 0, stalls: 0, stalledMs: 0, startupMs: undefined }
    this.#streams.set(stream, f)
    for (const oldest of this.#streams.keys()) {
      if (this.#streams.size <= MAX_STREAMS) break
      this.#streams.delete(oldest)
    }
    return f
  }
}
