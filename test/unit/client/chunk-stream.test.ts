import { describe, expect, it } from 'vitest'
import { chunkStream } from '../../../client/src/chunk-stream.js'

function deferred(): { promise: Promise<Uint8Array>; resolve: (b: Uint8Array) => void } {
  let resolve!: (b: Uint8Array) => void
  const promise = new Promise<Uint8Array>(r => {
    resolve = r
  })
  return { promise, resolve }
}

describe('chunkStream', () => {
  it('delivers in order while later chunks are in flight, first bytes before the last chunk', async () => {
    const pending = Array.from({ length: 4 }, deferred)
    const asked: number[] = []
    const ends: unknown[] = []
    const stream = chunkStream(
      0,
      3,
      2,
      false,
      async i => {
        asked.push(i)
        return await pending[i]!.promise
      },
      new AbortController().signal,
      r => ends.push(r)
    )
    const reader = stream.getReader()
    const first = reader.read()
    await new Promise(resolve => setTimeout(resolve, 0)) // pull runs after the read call
    expect(asked).toEqual([0, 1]) // two in flight, not more
    pending[1]!.resolve(Uint8Array.of(1))
    pending[0]!.resolve(Uint8Array.of(0))
    expect((await first).value).toEqual(Uint8Array.of(0))
    expect(asked).toEqual([0, 1, 2])
    pending[2]!.resolve(Uint8Array.of(2))
    pending[3]!.resolve(Uint8Array.of(3))
    const rest: number[] = []
    for (let i = 0; i < 10; i++) {
      const { done, value } = await reader.read()
      if (done) break
      rest.push(...value)
    }
    expect(rest).toEqual([1, 2, 3])
    expect(ends).toEqual([undefined])
  })

  it('abort errors the stream at once and ends it once', async () => {
    const abort = new AbortController()
    const ends: unknown[] = []
    const stream = chunkStream(
      0,
      9,
      2,
      false,
      async () => await new Promise<Uint8Array>(() => {}),
      abort.signal,
      r => ends.push(r)
    )
    const reader = stream.getReader()
    const read = reader.read()
    abort.abort(new DOMException('stop', 'AbortError'))
    await expect(read).rejects.toThrow('stop')
    expect(ends.length).toBe(1)
  })

  it('a failed chunk errors the stream', async () => {
    const stream = chunkStream(
      0,
      1,
      2,
      false,
      async i => {
        if (i === 0) throw new Error('no source')
        return Uint8Array.of(1)
      },
      new AbortController().signal,
      () => {}
    )
    await expect(stream.getReader().read()).rejects.toThrow('no source')
  })

  it('with ramp, reads two chunks ahead at first and doubles the read-ahead each time the reader asks for more', async () => {
    const asked: number[] = []
    const stream = chunkStream(
      0,
      19,
      8,
      true,
      async i => {
        asked.push(i)
        return Uint8Array.of(i)
      },
      new AbortController().signal,
      () => {}
    )
    const reader = stream.getReader()
    const inFlightAfter: number[] = []
    for (let taken = 1; taken <= 5; taken++) {
      await reader.read()
      inFlightAfter.push(asked.length - taken)
    }
    // A reader that stops after its first chunk has cost two more.
    expect(inFlightAfter).toEqual([2, 4, 8, 8, 8])
    await reader.cancel()
  })
})
