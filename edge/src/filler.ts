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
import { errorMessageOf } from '../../protocol/src/index.js'
import type { Logger, Now } from '../../protocol/src/index.js'
import type { Cache } from './cache/cache.js'
import type { CdnLoop } from './cdn-loop.js'
import { decideStorable, header, initialAgeS, isFresh, mergeNotModified, varyNames } from './cache/policy.js'
import type { Freshness, RequestFacts } from './cache/policy.js'
import type { CacheEntry } from './cache/store.js'
import { entryId } from './cache/store.js'
import { LEADER_ONLY, NOT_STORED, omit, pick, stripHopByHop } from './headers.js'
import type { Headers } from './headers.js'
import { startLiveFill } from './live-fill.js'
import type { LiveFill } from './live-fill.js'
import type { MemoryBudget } from './memory-budget.js'
import type { OriginClient } from './origin.js'
import { fillHeaders } from './origin-request.js'
import type { PublicAddress } from './origin-request.js'
import type { FillLock } from './cluster/worker-link.js'

export type { LiveFill } from './live-fill.js'

export interface PassedResponse {
  status: number
  headers: Headers
  body: Readable
}

export type FillOutcome =
  | {
      kind: 'stored'
      entry: CacheEntry
      revalidated: boolean
      /** Fields for the client whose request this was alone (`Set-Cookie`); never for joiners. */
      leaderHeaders?: Headers
    }
  | {
      kind: 'streaming'
      fill: LiveFill
      leaderHeaders?: Headers
      /** Settles once the entry is in the cache (its disk write queued) or will not be. */
      saved?: Promise<void>
    }
  | {
      kind: 'pass'
      status: number
      /** Why it was not stored, e.g. `no-store`, `status 500`. */
      reason: string
      /** The live response: the leader's only; undefined for everyone else. */
      response: PassedResponse | undefined
      /** Not stored for its size (`maxObjectBytes` or the memory budget): a range of it is better asked of the origin. */
      tooBig?: true
    }

export interface FillRequest {
  key: string
  /** The variant id the request maps to now: concurrent fills of one id share one origin request. */
  id: string
  /** Client request headers; only the key's fields and credentials reach the origin. */
  headers: Record<string, string | string[] | undefined>
  facts: RequestFacts
  /** A stored copy to revalidate. */
  stale?: CacheEntry
  /** The client's address: for `X-Forwarded-For` and fair turns at the origin. */
  remote: string | undefined
  /** 1xx interim responses of the origin, for the leader's client. */
  onInfo?: (status: number, headers: Headers) => void
}

export interface FillerInit {
  origin: OriginClient
  cache: Cache
  budget: MemoryBudget
  /** Where clients reach this edge, for the forwarding fields. */
  publicAddress: () => PublicAddress
  /** This edge's `CDN-Loop` member, added to every fill. */
  loop: CdnLoop
  chunkSize: number
  maxObjectBytes: number
  logger: Logger
  /** For the request and response times that ages are computed from. */
  now: Now
  /** Called once per fill that hit the origin: 'fill' or 'revalidate'. */
  onOriginFill?: (kind: 'fill' | 'revalidate') => void
  /**
   * With `--workers`: one worker at a time fills an id; the others wait (bounded), then
   * read what it stored. Not for revalidations, nor requests with credentials.
   */
  lock?: (id: string) => Promise<FillLock>
}

export interface Filler {
  fill: (req: FillRequest) => Promise<FillOutcome>
  readonly inflight: number
}

export function createFiller(init: FillerInit): Filler {
  const { origin, cache, logger } = init
  /** `started`: the origin request has its turn (`fair-queue.ts`). */
  const inflight = new Map<string, { outcome: Promise<FillOutcome>; client: string; started: boolean }>()

  async function run(req: FillRequest, onTurn?: () => void): Promise<FillOutcome> {
    const { key, stale } = req
    const headers = fillHeaders(
      stripHopByHop(req.headers),
      cache.keyFieldsOf(key),
      req.remote,
      init.publicAddress(),
      init.loop
    )
    const etag = stale === undefined ? undefined : header(stale.headers, 'etag')
    const lastModified = stale === undefined ? undefined : header(stale.headers, 'last-modified')
    if (etag !== undefined) headers['if-none-match'] = etag
    if (lastModified !== undefined) headers['if-modified-since'] = lastModified
    init.onOriginFill?.(stale === undefined ? 'fill' : 'revalidate')

    const epoch = cache.epochOf(key)
    const requestTime = init.now()
    const res = await origin.request({
      method: 'GET',
      path: key,
      headers,
      client: req.remote ?? '',
      onInfo: req.onInfo,
      onTurn
    })
    const responseTime = init.now()
    const resHeaders = stripHopByHop(res.headers)
    const status = res.status
    const leaderHeaders = pick(resHeaders, LEADER_ONLY)

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
      return { kind: 'stored', entry, revalidated: true, leaderHeaders }
    }

    const decision = decideStorable(req.facts, status, resHeaders)
    const passed = { status, headers: resHeaders, body: res.body }
    if (!decision.storable) return { kind: 'pass', status, reason: decision.reason, response: passed }
    const lengthText = header(resHeaders, 'content-length')
    const declared = lengthText !== undefined && /^\d+$/.test(lengthText) ? Number(lengthText) : undefined
    if (declared !== undefined && declared > init.maxObjectBytes)
      return { kind: 'pass', status, reason: 'larger than maxObjectBytes', response: passed, tooBig: true }
    if (declared !== undefined && !init.budget.reserve(declared))
      return { kind: 'pass', status, reason: 'no memory to store it', response: passed, tooBig: true }

    const vary = varyNames(resHeaders)
    if (status < 400) await cache.learnVary(key, vary)
    const entryBase = {
      key,
      // Keyed by what the origin was sent: a field the response varies on but the fill
      // did not forward yet is empty here, and the next request forwards it.
      variant: cache.variantFor(vary, headers),
      vary,
      url: origin.urlFor(key),
      status,
      headers: omit(resHeaders, [...NOT_STORED, ...decision.dropFields]),
      responseTime,
      initialAgeS: initialAgeS(resHeaders, requestTime, responseTime),
      ...freshnessOf(decision)
    }
    const fill = startLiveFill({
      body: res.body,
      declared,
      base: entryBase,
      budget: init.budget,
      chunkSize: init.chunkSize,
      maxObjectBytes: init.maxObjectBytes,
      etag: header(resHeaders, 'etag') ?? header(resHeaders, 'last-modified') ?? '',
      type: header(resHeaders, 'content-type') ?? 'application/octet-stream'
    })
    const saved = fill.stored.then(
      async entry => {
        // Purged or invalidated while it was filling: serve it to its waiters, but keep it out.
        if (cache.epochOf(key) !== epoch) return
        await cache.put(entry)
        logger.debug('stored', { key, size: entry.body.length, lifetimeS: entry.lifetimeS, heuristic: entry.heuristic })
        await cache.written(entryId(entry.key, entry.variant))
      },
      (err: unknown) => {
        cache.forgetIfEmpty(key)
        logger.debug('not-stored', { key, reason: errorMessageOf(err) })
      }
    )
    // Never rejects, so a lock waiting on it is always released.
    saved.catch((err: unknown) => logger.error('store-failed', { key, error: errorMessageOf(err) }))
    return { kind: 'streaming', fill, leaderHeaders, saved: saved.catch(() => {}) }
  }

  /** A fill across workers: lead it, or wait for the leader's and read its entry from disk. */
  async function runLocked(
    lock: (id: string) => Promise<FillLock>,
    req: FillRequest,
    onTurn: () => void
  ): Promise<FillOutcome> {
    const held = await lock(req.id)
    if (!held.leader) {
      // The leader's Vary, if any, was passed on before its unlock: look under the id it stored.
      const entry = await cache.get(cache.idFor(req.key, req.headers))
      if (entry !== undefined && isFresh(entry, init.now())) return { kind: 'stored', entry, revalidated: false }
      return await run(req, onTurn)
    }
    let outcome: FillOutcome
    try {
      outcome = await run(req, onTurn)
    } catch (err) {
      held.release()
      throw err
    }
    if (outcome.kind === 'streaming' && outcome.saved !== undefined) void outcome.saved.finally(held.release)
    else held.release()
    return outcome
  }

  const forget = (flight: string, record: unknown): void => {
    if (inflight.get(flight) === record) inflight.delete(flight)
  }

  return {
    get inflight() {
      return inflight.size
    },
    async fill(req) {
      // Authorization and Cookie select who may see a pass-through answer: only equal
      // requests share one fill.
      const flight = `${req.id}\n${header(req.headers, 'authorization') ?? ''}\n${header(req.headers, 'cookie') ?? ''}`
      const running = inflight.get(flight)
      // A fill still waiting for its turn waits behind its own client's requests: another
      // client joins it only once it runs, and asks for itself meanwhile.
      if (running !== undefined && !running.started && running.client !== (req.remote ?? '')) return await run(req)
      if (running !== undefined) {
        const outcome = await running.outcome
        if (outcome.kind === 'pass') return { ...outcome, response: undefined }
        // A fill that stopped storing holds only a window of its body: ask for our own.
        if (outcome.kind === 'streaming' && !outcome.fill.joinable) return await run(req)
        return { ...outcome, leaderHeaders: undefined }
      }
      const record = { outcome: undefined as unknown as Promise<FillOutcome>, client: req.remote ?? '', started: false }
      const onTurn = (): void => {
        record.started = true
      }
      const credentials =
        header(req.headers, 'authorization') !== undefined || header(req.headers, 'cookie') !== undefined
      const p =
        init.lock !== undefined && req.stale === undefined && !credentials
          ? runLocked(init.lock, req, onTurn)
          : run(req, onTurn)
      record.outcome = p
      inflight.set(flight, record)
      // Joiners may attach while the body streams; a pass, a stored entry or a failure ends the flight.
      p.then(
        outcome => {
          if (outcome.kind === 'streaming')
            void outcome.fill.stored.catch(() => {}).finally(() => forget(flight, record))
          else forget(flight, record)
        },
        () => forget(flight, record)
      )
      return await p
    }
  }
}

function freshnessOf(d: Freshness): Freshness {
  return {
    lifetimeS: d.lifetimeS,
    heuristic: d.heuristic,
    noCache: d.noCache,
    mustRevalidate: d.mustRevalidate,
    staleWhileRevalidateS: d.staleWhileRevalidateS,
    staleIfErrorS: d.staleIfErrorS,
    shared: d.shared,
    dropFields: d.dropFields
  }
}
