/**
 * A byte stream of chunks `first..last` delivered in order while up to `parallel`
 * later chunks are already being fetched. Reading the first bytes never waits for the
 * last chunk. With `ramp`, the read-ahead starts at two chunks and doubles each time
 * the reader asks for more: a reader that stops early (a media element that read an
 * MP4's index and seeks) costs a chunk or two, one that reads on gets full speed. Aborting `signal` errors the stream at once; `onEnd` runs exactly once,
 * when the stream closes, errors or is cancelled. `onHead` hears each chunk the reader
 * is now waiting for: the one whose lateness the page feels.
 */
export function chunkStream(
  first: number,
  last: number,
  parallel: number,
  ramp: boolean,
  fetchChunk: (index: number) => Promise<Uint8Array>,
  signal: AbortSignal,
  onEnd: (reason?: unknown) => void,
  onHead: (index: number) => void = () => {}
): ReadableStream<Uint8Array> {
  const inFlight = new Map<number, Promise<Uint8Array>>()
  let next = first
  let started = first
  let ahead = ramp ? Math.min(2, parallel) : parallel
  let ended = false
  const end = (reason?: unknown): void => {
    if (ended) return
    ended = true
    signal.removeEventListener('abort', onAbort)
    onEnd(reason)
  }
  let onAbort = (): void => {}
  const fill = (): void => {
    while (started <= last && started < next + ahead) {
      const p = fetchChunk(started)
      p.catch(() => {}) // surfaced when its turn comes
      inFlight.set(started++, p)
    }
  }
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        onAbort = () => {
          try {
            controller.error(signal.reason)
          } catch {}
          end(signal.reason)
        }
        if (signal.aborted) onAbort()
        else signal.addEventListener('abort', onAbort, { once: true })
      },
      async pull(controller) {
        if (ended) return
        // Asked for more after taking a chunk: this reader reads on.
        if (next > first) ahead = Math.min(parallel, ahead * 2)
        fill()
        onHead(next)
        let bytes: Uint8Array
        try {
          bytes = await inFlight.get(next)!
        } catch (err) {
          // `ended` is set by onAbort while the chunk is awaited.
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
          if (!ended) controller.error(err)
          end(err)
          return
        }
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
        if (ended) return
        inFlight.delete(next++)
        controller.enqueue(bytes)
        if (next > last) {
          controller.close()
          end()
        } else {
          fill()
        }
      },
      cancel(reason) {
        end(reason ?? new DOMException('stream cancelled', 'AbortError'))
      }
    },
    { highWaterMark: 0 }
  )
}
