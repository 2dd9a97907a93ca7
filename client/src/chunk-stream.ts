/**
 * A byte stream of chunks `first..last` delivered in order while up to `parallel`
 * later chunks are already being fetched. Reading the first bytes never waits for the
 * last chunk.
 */
export function chunkStream (
  first: number,
  last: number,
  parallel: number,
  fetchChunk: (index: number) => Promise<Uint8Array>,
  onCancel: () => void
): ReadableStream<Uint8Array> {
  const inFlight = new Map<number, Promise<Uint8Array>>()
  let next = first
  let started = first
  const fill = (): void => {
    while (started <= last && started < next + parallel) {
      const p = fetchChunk(started)
      p.catch(() => {}) // surfaced when its turn comes
      inFlight.set(started++, p)
    }
  }
  return new ReadableStream<Uint8Array>({
    async pull (controller) {
      if (next > last) {
        controller.close()
        return
      }
      fill()
      const bytes = await inFlight.get(next)!
      inFlight.delete(next++)
      controller.enqueue(bytes)
      if (next > last) controller.close()
      else fill()
    },
    cancel () {
      onCancel()
    }
  }, { highWaterMark: 0 })
}
