/**
 * Fills the cache from the origin. Concurrent fills of one key share one origin
 * request. A stale entry with a validator is revalidated (If-None-Match /
 * If-Modified-Since); a 304 refreshes it without moving the body.
 *
 * When the origin's answer may not be stored, nothing is buffered: the live response
 * is handed to the first caller that claims it, and every other waiter makes its own
 * request. So a response meant for one client is never shared with another.
 */
import { PassThrough } from 'node:stream'
import type { Readable } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import type { Logger } from '../../protocol/src/index.js'
import { decideStorable, header, initialAgeS, mergeNotModified } from './cache/policy.js'
import type { CacheEntry, CacheStore } from './cache/store.js'
import { NOT_STORED, omit, stripHopByHop } from './headers.js'
import type { Headers } from './headers.js'
import { createManifestBuilder } from './manifest-builder.js'
import type { OriginClient } from './origin.js'

export interface PassedResponse {
  status: number
  headers: Headers
  body: Readable
}

export type FillOutcome =
  | { kind: 'stored', entry: CacheEntry, revalidated: boolean }
  | {
    kind: 'pass'
    /** Origin status (200 when the response was fine but not storable). */
    status: number
    /** Why it was not stored, e.g. `no-store`, `status 404`. */
    reason: string
    /** The live response, to the first caller only; later callers get undefined. */
    claim: () => PassedResponse | undefined
  }

export interface FillerInit {
  origin: OriginClient
  store: CacheStore
  chunkSize: number
  maxObjectBytes: number
  logger: Logger
}

export interface Filler {
  fill: (key: string, stale?: CacheEntry) => Promise<FillOutcome>
  readonly inflight: number
}

/** A fill asks for the bytes as stored, so manifests hash what clients will receive. */
const FILL_HEADERS = { 'accept-encoding': 'identity', via: '1.1 p2pcdn-edge', 'user-agent': 'p2pcdn-edge' }

export function createFiller (init: FillerInit): Filler {
  const { origin, store, logger } = init
  const inflight = new Map<string, Promise<FillOutcome>>()

  async function run (key: string, stale: CacheEntry | undefined): Promise<FillOutcome> {
    const headers: Record<string, string> = { ...FILL_HEADERS }
    const etag = stale === undefined ? undefined : header(stale.headers, 'etag')
    const lastModified = stale === undefined ? undefined : header(stale.headers, 'last-modified')
    if (etag !== undefined) headers['if-none-match'] = etag
    else if (lastModified !== undefined) headers['if-modified-since'] = lastModified

    const requestTime = Date.now()
    const res = await origin.request({ method: 'GET', path: key, headers })
    const responseTime = Date.now()
    const resHeaders = stripHopByHop(res.headers)
    const status = res.statusCode ?? 502

    if (status === 304 && stale !== undefined) {
      res.resume()
      const merged = mergeNotModified(stale.headers, resHeaders)
      const decision = decideStorable('GET', 200, merged)
      if (!decision.storable) {
        await store.delete(key)
        return passOutcome(200, decision.reason, undefined)
      }
      const entry: CacheEntry = {
        ...stale,
        headers: omit(merged, NOT_STORED),
        responseTime,
        initialAgeS: initialAgeS(merged, requestTime, responseTime),
        lifetimeS: decision.lifetimeS
      }
      await store.put(entry)
      logger.debug('revalidated', { key })
      return { kind: 'stored', entry, revalidated: true }
    }

    const decision = decideStorable('GET', status, resHeaders)
    if (!decision.storable) return passOutcome(status, decision.reason, { status, headers: resHeaders, body: res })
    const declared = Number(header(resHeaders, 'content-length') ?? NaN)
    if (declared > init.maxObjectBytes) return passOutcome(status, 'larger than maxObjectBytes', { status, headers: resHeaders, body: res })

    const builder = createManifestBuilder({
      url: origin.urlFor(key),
      type: header(resHeaders, 'content-type') ?? 'application/octet-stream',
      etag: header(resHeaders, 'etag') ?? header(resHeaders, 'last-modified') ?? '',
      chunkSize: init.chunkSize
    })
    const parts: Buffer[] = []
    const tooLarge = await readBody(res, parts, builder.push, init.maxObjectBytes)
    if (tooLarge) {
      // Hand the client what was read so far followed by the rest of the live stream.
      const body = new PassThrough()
      for (const part of parts) body.write(part)
      res.on('error', err => body.destroy(err))
      res.pipe(body)
      return passOutcome(status, 'larger than maxObjectBytes', { status, headers: resHeaders, body })
    }
    if (!Number.isNaN(declared) && declared !== builder.size) throw new Error(`origin sent ${builder.size} of ${declared} bytes`)

    const entry: CacheEntry = {
      key,
      url: origin.urlFor(key),
      headers: omit(resHeaders, NOT_STORED),
      body: Buffer.concat(parts, builder.size),
      manifest: builder.finish(),
      responseTime,
      initialAgeS: initialAgeS(resHeaders, requestTime, responseTime),
      lifetimeS: decision.lifetimeS
    }
    await store.put(entry)
    logger.debug('stored', { key, size: entry.body.length, lifetimeS: entry.lifetimeS, heuristic: decision.heuristic })
    return { kind: 'stored', entry, revalidated: false }
  }

  return {
    get inflight () { return inflight.size },
    async fill (key, stale) {
      const running = inflight.get(key)
      if (running !== undefined) return await running
      const p = run(key, stale).finally(() => inflight.delete(key))
      inflight.set(key, p)
      return await p
    }
  }
}

function passOutcome (status: number, reason: string, response: PassedResponse | undefined): FillOutcome {
  let claimed = false
  // Waiters claim right after their await resumes (microtasks); by the next macrotask
  // an unclaimed body only holds a socket, so drop it.
  setImmediate(() => {
    if (!claimed) response?.body.destroy()
  })
  return {
    kind: 'pass',
    status,
    reason,
    claim () {
      if (claimed) return undefined
      claimed = true
      return response
    }
  }
}

/**
 * Reads the body into `parts`, feeding `onBytes`. Returns true, with the stream
 * paused and not yet ended, as soon as it exceeds `maxBytes`.
 */
async function readBody (res: IncomingMessage, parts: Buffer[], onBytes: (b: Uint8Array) => void, maxBytes: number): Promise<boolean> {
  let size = 0
  // destroyOnReturn: false leaves the rest of the stream readable when we stop early.
  for await (const chunk of res.iterator({ destroyOnReturn: false })) {
    const buf = chunk as Buffer
    size += buf.length
    parts.push(buf)
    if (size > maxBytes) return true
    onBytes(buf)
  }
  return false
}
