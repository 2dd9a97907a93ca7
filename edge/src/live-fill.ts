/**
 * A storable origin response whose body is still arriving. Every client of the fill
 * reads it through its own stream, at its own pace, from the bytes the fill holds: a
 * client that stops reading holds nothing but its place (no per-client buffering), and
 * its socket's idle timeout ends it.
 *
 * What the fill holds counts against the `MemoryBudget`: with a `Content-Length` the
 * whole body is reserved up front (the filler passes the response through when it
 * cannot be) and written into one buffer that becomes the stored body without a copy;
 * without one, each chunk is reserved as it arrives. When a body outgrows
 * `maxObjectBytes` or the budget, the fill stops storing: it keeps only the bytes its
 * slowest client has not read, pauses the origin while that window is full, and takes
 * no new clients.
 */
import { Readable } from 'node:stream'
import type { CacheEntry } from './cache/store.js'
import { currentAgeS } from './cache/policy.js'
import type { Headers } from './headers.js'
import { createManifestBuilder } from './manifest-builder.js'
import type { MemoryBudget } from './memory-budget.js'

/** Largest slice handed to a client stream at once. */
const READ_SLICE_BYTES = 64 * 1024
/** Bytes a fill that stopped storing keeps ahead of its slowest client before pausing the origin. */
export const UNSTORED_WINDOW_BYTES = 256 * 1024

export interface LiveFill {
  readonly key: string
  readonly status: number
  /** Headers as they will be stored (and sent). */
  readonly headers: Headers
  readonly variant: string
  readonly vary: string[]
  /** Declared length, when the origin sent one. */
  readonly size: number | undefined
  /** False once the fill stopped storing or ended: a new client must make its own request. */
  readonly joinable: boolean
  /** It stopped storing because the body outgrew `maxObjectBytes` or the memory budget. */
  readonly tooBig: boolean
  /** The response's current age in seconds (RFC 9111 §4.2.3). */
  ageS: (now: number) => number
  /** The body from its first byte, as fast as the reader takes it; errors when the origin body fails or comes up short. */
  open: () => Readable
  /** The stored entry once complete; rejects when it will not be stored. */
  readonly stored: Promise<CacheEntry>
}

export interface LiveFillInit {
  body: Readable
  declared: number | undefined
  /** `declared` bytes already reserved in `budget` for this fill (the filler does that before it starts one). */
  base: Omit<CacheEntry, 'body' | 'manifest'>
  budget: MemoryBudget
  chunkSize: number
  maxObjectBytes: number
  etag: string
  type: string
}

interface Reader {
  pos: number
  stream: Readable
  wanting: boolean
}

export function startLiveFill(init: LiveFillInit): LiveFill {
  const { body, declared, base, budget } = init
  const builder =
    base.status === 200
      ? createManifestBuilder({ url: base.url, type: init.type, etag: init.etag, chunkSize: init.chunkSize }, declared)
      : undefined
  // With a declared length the body lands in one buffer, already reserved.
  const whole = declared === undefined ? undefined : Buffer.allocUnsafe(declared)
  let reserved = declared ?? 0
  // Held chunks and the byte offset each starts at; the front is dropped once nobody needs it.
  const chunks: Buffer[] = []
  const starts: number[] = []
  const readers = new Set<Reader>()
  // Until the first client opens its stream, the fill keeps the body's start for it.
  let opened = false
  let received = 0
  let storing = true
  let tooBig = false
  let ended = false
  let failure: Error | undefined
  let settle!: { resolve: (e: CacheEntry) => void; reject: (err: Error) => void }
  const stored = new Promise<CacheEntry>((resolve, reject) => {
    settle = { resolve, reject }
  })
  stored.catch(() => {})

  const releaseAll = (): void => {
    budget.release(reserved)
    reserved = 0
  }
  const minPos = (): number => {
    if (!opened) return 0
    let min = received
    for (const r of readers) min = Math.min(min, r.pos)
    return min
  }
  /** Drop what every reader has passed (only once not storing), and pace the origin. */
  const trim = (): void => {
    if (storing) return
    const keepFrom = minPos()
    while (chunks.length > 0 && (starts[0] ?? 0) + (chunks[0]?.length ?? 0) <= keepFrom) {
      const dropped = chunks.shift()
      starts.shift()
      if (whole === undefined && dropped !== undefined) {
        const counted = Math.min(reserved, dropped.length)
        budget.release(counted)
        reserved -= counted
      }
    }
    if (ended) return
    if (readers.size === 0 && opened) {
      // Nobody reads and nothing will be stored: stop the origin.
      body.destroy()
      return
    }
    const ahead = received - keepFrom
    if (ahead > UNSTORED_WINDOW_BYTES && !body.isPaused()) body.pause()
    else if (ahead <= UNSTORED_WINDOW_BYTES / 2 && body.isPaused()) body.resume()
  }
  const stopStoring = (reason: string): void => {
    if (!storing) return
    storing = false
    tooBig = true
    settle.reject(new Error(reason))
    trim()
  }
  /** Push what the reader may take now; true when it got to the end or an error. */
  const pump = (r: Reader): void => {
    r.wanting = false
    for (;;) {
      if (r.pos >= received) {
        if (failure !== undefined) r.stream.destroy(failure)
        else if (ended) r.stream.push(null)
        else r.wanting = true
        break
      }
      const slice = sliceAt(r.pos)
      if (slice === undefined) break
      r.pos += slice.length
      if (!r.stream.push(slice)) break
    }
    trim()
  }
  const sliceAt = (pos: number): Buffer | undefined => {
    // Readers are near the end almost always: search from the back.
    for (let i = chunks.length - 1; i >= 0; i--) {
      const start = starts[i] ?? 0
      if (start <= pos) {
        const c = chunks[i] as Buffer
        return c.subarray(pos - start, Math.min(c.length, pos - start + READ_SLICE_BYTES))
      }
    }
    return undefined
  }
  const wake = (): void => {
    for (const r of readers) if (r.wanting) pump(r)
  }

  const finish = (err?: Error): void => {
    if (ended) return
    ended = true
    failure = err
    wake()
    if (!storing) {
      releaseAll()
      return
    }
    if (err !== undefined) {
      storing = false
      releaseAll()
      settle.reject(err)
      return
    }
    let out: Buffer
    if (whole !== undefined) {
      // Never store a body shorter than its Content-Length.
      if (received !== declared) {
        storing = false
        releaseAll()
        settle.reject(new Error(`origin sent ${received} of ${String(declared)} bytes`))
        return
      }
      out = whole
    } else {
      // One copy into the stored body: it needs room of its own until the chunks go.
      if (!budget.reserve(received)) {
        stopStoring('no memory to store it')
        releaseAll()
        return
      }
      reserved += received
      out = Buffer.concat(chunks, received)
      // Readers go on from the one body; the chunks go.
      chunks.splice(0, chunks.length, out)
      starts.splice(0, starts.length, 0)
    }
    storing = false
    // The store charges the entry from here on.
    releaseAll()
    settle.resolve({ ...base, body: out, manifest: builder?.finish() })
  }

  body.on('data', (chunk: Buffer) => {
    if (ended) return
    if (whole !== undefined) {
      if (received + chunk.length > whole.length) {
        body.destroy(new Error(`origin sent more than its Content-Length of ${whole.length}`))
        return
      }
      chunk.copy(whole, received)
      chunks.push(whole.subarray(received, received + chunk.length))
    } else {
      // Once not storing, chunks are held only inside the window behind the slowest
      // reader (a fixed overhead per fill); the reserved ones are the oldest.
      if (storing && received + chunk.length > init.maxObjectBytes) stopStoring('larger than maxObjectBytes')
      else if (storing && !budget.reserve(chunk.length)) stopStoring('no memory to store it')
      else if (storing) reserved += chunk.length
      chunks.push(chunk)
    }
    starts.push(received)
    received += chunk.length
    if (storing) builder?.push(chunks[chunks.length - 1] as Buffer)
    wake()
    trim()
  })
  body.on('end', () => {
    if (declared !== undefined && received < declared)
      finish(new Error(`origin closed after ${received} of ${declared} bytes`))
    else finish()
  })
  body.on('error', err => finish(err))
  body.on('close', () => finish(new Error('origin stream closed early')))

  return {
    key: base.key,
    status: base.status,
    headers: base.headers,
    variant: base.variant,
    vary: base.vary,
    size: declared,
    stored,
    get joinable() {
      return storing && !ended
    },
    get tooBig() {
      return tooBig
    },
    ageS: now => currentAgeS(base, now),
    open() {
      const reader: Reader = { pos: 0, wanting: false, stream: undefined as unknown as Readable }
      reader.stream = new Readable({
        read: () => pump(reader),
        destroy: (err, cb) => {
          readers.delete(reader)
          trim()
          cb(err)
        }
      })
      // A late client of a fill that stopped storing has missed the dropped front.
      if (!storing && (starts[0] ?? 0) > 0) {
        queueMicrotask(() => reader.stream.destroy(new Error('fill no longer holds the start of the body')))
        return reader.stream
      }
      readers.add(reader)
      opened = true
      return reader.stream
    }
  }
}
