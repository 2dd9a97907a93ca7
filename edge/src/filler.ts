/**
 * Fills the cache from the origin. Concurrent fills of one variant share one origin
 * request (the leader's); so do concurrent revalidations. A stale entry with a
 * validator is revalidated (If-None-Match / If-Modified-Since); a 304 refreshes its
 * headers without moving the body.
 *
 * A storable response becomes a `LiveFill` as soon as its head arrives: every waiter
 * streams the body as it comes, and the entry is stored only once the whole body is
 * here and its length matches `Content-Length`. A response that may not be stored is
 * handed to the leader alone; each other waiter makes its own request, so a response
 * meant for one client is never shared with another.
 */
import type { Readable } from 'node:stream'
import type { Logger } from '../../protocol/src/index.js'
import { variantOf } from './cache/cache.js'
import type { Cache } from './cache/cache.js'
import { decideStorable, header, initialAgeS, mergeNotModified, varyNames } from './cache/policy.js'
import type { Freshness, RequestFacts } from './cache/policy.js'
import type { CacheEntry } from './cache/store.js'
import { NOT_STORED, omit, stripHopByHop } from './headers.js'
import type { Headers } from './headers.js'
import { createManifestBuilder } from './manifest-builder.js'
import type { OriginClient } from './origin.js'

export interface PassedResponse {
  status: number
  headers: Headers
  body: Readable
}

/** A storable response whose body is still arriving. */
export interface LiveFill {
  readonly status: number
  /** Headers as they will be stored (and sent). */
  readonly headers: Headers
  readonly variant: string
  /** Declared length, when the origin sent one. */
  readonly size: number | undefined
  /**
   * Replays what arrived so far, then each new chunk; `onEnd` gets an error when the
   * origin stream failed or came up short. Returns an unsubscribe function.
   */
  subscribe: (onChunk: (chunk: Buffer) => void, onEnd: (err?: Error) => void) => () => void
  /** The stored entry once complete; rejects when it will not be stored. */
  readonly stored: Promise<CacheEntry>
}

export type FillOutcome =
  | { kind: 'stored', entry: CacheEntry, revalidated: boolean }
  | { kind: 'streaming', fill: LiveFill }
  | {
    kind: 'pass'
    status: number
    /** Why it was not stored, e.g. `no-store`, `status 500`. */
    reason: string
    /** The live response: the leader's only; undefined for everyone else. */
    response: PassedResponse | undefined
  }

export interface FillRequest {
  key: string
  /** The variant id the request maps to now: concurrent fills of one id share one origin request. */
  id: string
  /** Client request headers; end-to-end ones are forwarded so `Vary` sees them. */
  headers: Record<string, string | string[] | undefined>
  facts: RequestFacts
  /** A stored copy to revalidate. */
  stale?: CacheEntry
}

export interface FillerInit {
  origin: OriginClient
  cache: Cache
  chunkSize: number
  maxObjectBytes: number
  logger: Logger
  /** Called once per fill that hit the origin: 'fill' or 'revalidate'. */
  onOriginFill?: (kind: 'fill' | 'revalidate') => void
}

export interface Filler {
  fill: (req: FillRequest) => Promise<FillOutcome>
  readonly inflight: number
}

/** Fields a fill never forwards: the edge asks for the whole object, unconditionally. */
const NOT_FORWARDED = ['host', 'range', 'if-range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'expect', 'content-length', 'accept-encoding']

export const VIA = '1.1 p2pcdn-edge'

export function createFiller (init: FillerInit): Filler {
  const { origin, cache, logger } = init
  const inflight = new Map<string, Promise<FillOutcome>>()

  async function run (req: FillRequest): Promise<FillOutcome> {
    const { key, stale } = req
    const headers = omit(stripHopByHop(req.headers), NOT_FORWARDED)
    // A fill asks for the bytes as stored, so manifests hash what clients will receive.
    headers['accept-encoding'] = 'identity'
    headers.via = appendVia(headers.via)
    const etag = stale === undefined ? undefined : header(stale.headers, 'etag')
    const lastModified = stale === undefined ? undefined : header(stale.headers, 'last-modified')
    if (etag !== undefined) headers['if-none-match'] = etag
    if (lastModified !== undefined) headers['if-modified-since'] = lastModified
    init.onOriginFill?.(stale === undefined ? 'fill' : 'revalidate')

    const epoch = cache.epochOf(key)
    const requestTime = Date.now()
    const res = await origin.request({ method: 'GET', path: key, headers })
    const responseTime = Date.now()
    const resHeaders = stripHopByHop(res.headers)
    const status = res.status

    if (status === 304 && stale !== undefined) {
      res.body.resume()
      const merged = mergeNotModified(stale.headers, resHeaders)
      const decision = decideStorable(req.facts, stale.status, merged)
      if (!decision.storable) {
        await cache.invalidate(key)
        return { kind: 'pass', status: stale.status, reason: decision.reason, response: undefined }
      }
      const entry: CacheEntry = {
        ...stale,
        ...freshnessOf(decision),
        headers: omit(merged, [...NOT_STORED, ...decision.dropFields]),
        responseTime,
        initialAgeS: initialAgeS(merged, requestTime, responseTime)
      }
      if (cache.epochOf(key) === epoch) await cache.put(entry)
      logger.debug('revalidated', { key })
      return { kind: 'stored', entry, revalidated: true }
    }

    const decision = decideStorable(req.facts, status, resHeaders)
    const passed = { status, headers: resHeaders, body: res.body }
    if (!decision.storable) return { kind: 'pass', status, reason: decision.reason, response: passed }
    const lengthText = header(resHeaders, 'content-length')
    const declared = lengthText !== undefined && /^\d+$/.test(lengthText) ? Number(lengthText) : undefined
    if (declared !== undefined && declared > init.maxObjectBytes) return { kind: 'pass', status, reason: 'larger than maxObjectBytes', response: passed }

    const vary = varyNames(resHeaders)
    const entryBase = {
      key,
      variant: variantOf(vary, req.headers),
      vary,
      url: origin.urlFor(key),
      status,
      headers: omit(resHeaders, [...NOT_STORED, ...decision.dropFields]),
      responseTime,
      initialAgeS: initialAgeS(resHeaders, requestTime, responseTime),
      ...freshnessOf(decision)
    }
    const fill = startLiveFill(res.body, declared, entryBase, {
      chunkSize: init.chunkSize,
      maxObjectBytes: init.maxObjectBytes,
      etag: header(resHeaders, 'etag') ?? header(resHeaders, 'last-modified') ?? '',
      type: header(resHeaders, 'content-type') ?? 'application/octet-stream'
    })
    fill.stored.then(async entry => {
      // Purged or invalidated while it was filling: serve it to its waiters, but keep it out.
      if (cache.epochOf(key) !== epoch) return
      await cache.put(entry)
      logger.debug('stored', { key, size: entry.body.length, lifetimeS: entry.lifetimeS, heuristic: entry.heuristic })
    }, (err: Error) => logger.debug('not-stored', { key, reason: err.message }))
    return { kind: 'streaming', fill }
  }

  return {
    get inflight () { return inflight.size },
    async fill (req) {
      // Authorization and Cookie select who may see a pass-through answer: only equal
      // requests share one fill.
      const flight = `${req.id}\n${header(req.headers, 'authorization') ?? ''}\n${header(req.headers, 'cookie') ?? ''}`
      const running = inflight.get(flight)
      if (running !== undefined) {
        const outcome = await running
        return outcome.kind === 'pass' ? { ...outcome, response: undefined } : outcome
      }
      const p = run(req)
      inflight.set(flight, p)
      // Joiners may attach while the body streams; a pass, a stored entry or a failure ends the flight.
      p.then(outcome => {
        if (outcome.kind === 'streaming') void outcome.fill.stored.catch(() => {}).finally(() => inflight.delete(flight))
        else inflight.delete(flight)
      }, () => inflight.delete(flight))
      return await p
    }
  }
}

function freshnessOf (d: Freshness): Freshness {
  return {
    lifetimeS: d.lifetimeS,
    heuristic: d.heuristic,
    noCache: d.noCache,
    mustRevalidate: d.mustRevalidate,
    staleWhileRevalidateS: d.staleWhileRevalidateS,
    staleIfErrorS: d.staleIfErrorS,
    dropFields: d.dropFields
  }
}

export function appendVia (prior: string | string[] | undefined): string {
  if (prior === undefined) return VIA
  return `${Array.isArray(prior) ? prior.join(', ') : prior}, ${VIA}`
}

interface LiveFillOptions {
  chunkSize: number
  maxObjectBytes: number
  etag: string
  type: string
}

function startLiveFill (body: Readable, declared: number | undefined, base: Omit<CacheEntry, 'body' | 'manifest'>, opts: LiveFillOptions): LiveFill {
  const chunks: Buffer[] = []
  const listeners = new Set<{ onChunk: (c: Buffer) => void, onEnd: (err?: Error) => void }>()
  const builder = base.status === 200 ? createManifestBuilder({ url: base.url, type: opts.type, etag: opts.etag, chunkSize: opts.chunkSize }) : undefined
  let received = 0
  let ended = false
  let failure: Error | undefined
  let settle!: { resolve: (e: CacheEntry) => void, reject: (err: Error) => void }
  const stored = new Promise<CacheEntry>((resolve, reject) => { settle = { resolve, reject } })
  let tooLarge = false

  const finish = (err?: Error): void => {
    if (ended) return
    ended = true
    failure = err
    for (const l of listeners) l.onEnd(err)
    listeners.clear()
    if (err !== undefined) return settle.reject(err)
    if (tooLarge) return settle.reject(new Error('larger than maxObjectBytes'))
    // Never store a body shorter (or longer) than its Content-Length.
    if (declared !== undefined && received !== declared) return settle.reject(new Error(`origin sent ${received} of ${declared} bytes`))
    settle.resolve({ ...base, body: Buffer.concat(chunks, received), manifest: builder?.finish() })
  }

  body.on('data', (chunk: Buffer) => {
    received += chunk.length
    if (!tooLarge && received > opts.maxObjectBytes) tooLarge = true
    if (!tooLarge) builder?.push(chunk)
    // An object over the limit is never stored: with nobody reading, stop here.
    if (tooLarge && listeners.size === 0) {
      body.destroy()
      return
    }
    chunks.push(chunk)
    for (const l of listeners) l.onChunk(chunk)
  })
  body.on('end', () => {
    if (declared !== undefined && received < declared) finish(new Error(`origin closed after ${received} of ${declared} bytes`))
    else finish()
  })
  body.on('error', err => finish(err))
  body.on('close', () => finish(new Error('origin stream closed early')))

  return {
    status: base.status,
    headers: base.headers,
    variant: base.variant,
    size: declared,
    stored,
    subscribe (onChunk, onEnd) {
      for (const c of chunks) onChunk(c)
      if (ended) {
        onEnd(failure)
        return () => {}
      }
      const l = { onChunk, onEnd }
      listeners.add(l)
      return () => { listeners.delete(l) }
    }
  }
}
