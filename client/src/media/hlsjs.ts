/**
 * hls.js integration: loaders that hls.js constructs from its config (`fLoader` for
 * segments, `pLoader` for playlists), so that `new Hls({ ...p2p.config })` takes every
 * fragment through the SDK. hls.js is the page's; nothing here imports it.
 */
import { errorMessageOf } from '../../../protocol/src/index.js'
import type { MediaHints } from '../chunk-fetcher.js'
import type { Client } from '../client.js'
import { bodyLength, readBody } from './read-body.js'
import { MediaSession, type MediaSessionOptions, type SessionMedia } from './session.js'

/** The parts of hls.js's loader context we read (`LoaderContext`, `FragmentLoaderContext`). */
export interface HlsLoaderContext {
  url: string
  responseType: string
  headers?: Record<string, string>
  rangeStart?: number
  rangeEnd?: number
  frag?: { start: number; duration: number; sn?: number | 'initSegment' }
}

/** hls.js's `LoaderStats`, filled in truthfully: its ABR reads them. */
export interface HlsLoaderStats {
  aborted: boolean
  loaded: number
  retry: number
  total: number
  chunkCount: number
  bwEstimate: number
  loading: { start: number; first: number; end: number }
  parsing: { start: number; end: number }
  buffering: { start: number; first: number; end: number }
}

export interface HlsLoaderCallbacks {
  onSuccess: (
    response: { url: string; data: ArrayBuffer | string; code: number },
    stats: HlsLoaderStats,
    context: HlsLoaderContext,
    networkDetails: unknown
  ) => void
  onError: (
    error: { code: number; text: string },
    context: HlsLoaderContext,
    networkDetails: unknown,
    stats: HlsLoaderStats
  ) => void
  onTimeout: (stats: HlsLoaderStats, context: HlsLoaderContext, networkDetails: unknown) => void
  onAbort?: (stats: HlsLoaderStats, context: HlsLoaderContext, networkDetails: unknown) => void
}

export interface HlsLoaderConfig {
  /** hls.js's overall time for one load (`loadPolicy.maxLoadTimeMs`); 0 or absent: none. */
  timeout?: number
  loadPolicy?: { maxLoadTimeMs?: number }
}

/** What `attach` reads of an `Hls` instance. */
export interface HlsLike {
  readonly media?: SessionMedia | null
  on: (event: string, listener: (event: string, data: never) => void) => void
}

/** A loader class as hls.js's config takes it (`new config.fLoader(config)`). */
export type HlsLoaderClass = new (config: unknown) => HlsLoader

export interface HlsjsIntegration {
  /** Spread into the hls.js config: `new Hls({ ...p2p.config, ...yours })`. */
  config: { fLoader: HlsLoaderClass; pLoader: HlsLoaderClass }
  /**
   * Give the integration the `Hls` instance: segment deadlines follow its media
   * element's playhead, stalls are counted, live segments behind it leave storage.
   * Without it every segment is treated as needed now (a peer that holds it still serves it).
   */
  attach: (hls: HlsLike) => void
  session: MediaSession
  destroy: () => void
}

// hls.js event names (Hls.Events), spelled out: this module does not import hls.js.
const MEDIA_ATTACHED = 'hlsMediaAttached'
const MEDIA_DETACHING = 'hlsMediaDetaching'
const LEVEL_LOADED = 'hlsLevelLoaded'
const DESTROYING = 'hlsDestroying'

/**
 * @example
 * const p2p = P2PCDN.hlsjs(cdn, { stream: 'main' })
 * const hls = new Hls({ ...p2p.config })
 * p2p.attach(hls)
 * hls.loadSource('https://origin.example/live/index.m3u8')
 * hls.attachMedia(video)
 */
export function hlsjs(cdn: Client, options: MediaSessionOptions = {}): HlsjsIntegration {
  const session = new MediaSession(cdn, options)
  // Segments through the SDK with their deadline; playlists from the edge, never peers.
  const segments = loaderClass(async (context, signal) => {
    const headers = rangeHeaders(context)
    const frag = context.frag
    const media: MediaHints = session.hints(frag === undefined || frag.sn === 'initSegment' ? undefined : frag.start)
    return await cdn.fetch(context.url, { headers, signal, media })
  }, session)
  const playlists = loaderClass(async (context, signal) => await cdn.fetchFromEdge(context.url, { signal }), undefined)
  return {
    config: { fLoader: segments, pLoader: playlists },
    attach(hls) {
      if (hls.media !== undefined && hls.media !== null) session.setMedia(hls.media)
      hls.on(MEDIA_ATTACHED, (_e, data: { media: SessionMedia }) => session.setMedia(data.media))
      hls.on(MEDIA_DETACHING, () => session.setMedia(undefined))
      hls.on(LEVEL_LOADED, (_e, data: { details?: { live?: boolean } }) => {
        session.live = data.details?.live === true
      })
      hls.on(DESTROYING, () => session.destroy())
    },
    session,
    destroy: () => session.destroy()
  }
}

/** `Range` for a byte-range fragment (`#EXT-X-BYTERANGE`): hls.js's `rangeEnd` is exclusive. */
function rangeHeaders(context: HlsLoaderContext): Record<string, string> {
  const headers = { ...context.headers }
  const { rangeStart, rangeEnd } = context
  if (rangeEnd !== undefined && rangeEnd > 0) headers.Range = `bytes=${rangeStart ?? 0}-${rangeEnd - 1}`
  else if (rangeStart !== undefined && rangeStart > 0) headers.Range = `bytes=${rangeStart}-`
  return headers
}

function emptyStats(): HlsLoaderStats {
  return {
    aborted: false,
    loaded: 0,
    retry: 0,
    total: 0,
    chunkCount: 0,
    bwEstimate: 0,
    loading: { start: 0, first: 0, end: 0 },
    parsing: { start: 0, end: 0 },
    buffering: { start: 0, first: 0, end: 0 }
  }
}

type Load = (context: HlsLoaderContext, signal: AbortSignal) => Promise<Response>

/** One hls.js load: `load` gives the Response, this reports it to hls.js as its own loaders do. */
export class HlsLoader {
  context: HlsLoaderContext | null = null
  stats: HlsLoaderStats = emptyStats()
  #abort: AbortController | undefined
  #response: Response | undefined
  #callbacks: HlsLoaderCallbacks | undefined

  constructor(
    readonly run: Load,
    readonly session: MediaSession | undefined
  ) {}

  load(context: HlsLoaderContext, config: HlsLoaderConfig, callbacks: HlsLoaderCallbacks): void {
    this.context = context
    this.#callbacks = callbacks
    // Reset in place: hls.js took this object as `frag.stats` before calling load(), and
    // its ABR and FRAG_LOADED listeners read the figures there (keeping the retry it set).
    const stats = this.stats
    Object.assign(stats, emptyStats(), { retry: stats.retry })
    stats.loading.start = performance.now()
    const abort = (this.#abort = new AbortController())
    const limitMs = config.loadPolicy?.maxLoadTimeMs ?? config.timeout ?? 0
    const timeout = new DOMException('hls.js load timeout', 'TimeoutError')
    const timer =
      limitMs > 0 && Number.isFinite(limitMs)
        ? setTimeout(() => {
            abort.abort(timeout)
          }, limitMs)
        : undefined
    // Settled before any callback: hls.js destroys the loader inside onSuccess, and that
    // must not read as an abort of the load that just succeeded.
    const settled = (): boolean => {
      clearTimeout(timer)
      if (this.#abort !== abort) return false
      this.#abort = undefined
      return true
    }
    void (async () => {
      try {
        const res = (this.#response = await this.run(context, abort.signal))
        stats.loading.first = Math.max(stats.loading.start, performance.now())
        if (!res.ok) {
          await res.body?.cancel().catch(() => {})
          if (settled()) callbacks.onError({ code: res.status, text: res.statusText }, context, res, stats)
          return
        }
        stats.total = bodyLength(res)
        const data = await readBody(res, bytes => (stats.loaded += bytes))
        stats.loading.end = Math.max(stats.loading.first, performance.now())
        stats.chunkCount = 1
        const frag = context.frag
        if (this.session !== undefined && frag !== undefined && frag.sn !== 'initSegment')
          this.session.played(context.url, frag.start + frag.duration)
        const body = context.responseType === 'arraybuffer' ? data.buffer : new TextDecoder().decode(data)
        if (settled()) callbacks.onSuccess({ url: context.url, data: body, code: res.status }, stats, context, res)
      } catch (err) {
        // Aborted by hls.js: `abort()` settled it and called onAbort.
        if (!settled()) return
        if (abort.signal.reason === timeout) callbacks.onTimeout(stats, context, undefined)
        else callbacks.onError({ code: 0, text: errorMessageOf(err) }, context, undefined, stats)
      }
    })()
  }

  /** hls.js gave up on the load: stop every request for it; `onAbort`, as hls.js's own loaders call it. */
  abort(): void {
    if (this.#stop() && this.context !== null) this.#callbacks?.onAbort?.(this.stats, this.context, this.#response)
  }

  /**
   * hls.js is done with this loader (it says so right after `onSuccess` too): a load still
   * running stops silently, as hls.js's own loaders do; `onAbort` would read as a failure.
   */
  destroy(): void {
    this.#stop()
    this.#callbacks = undefined
    this.context = null
  }

  /** Abort the load in flight; false when none was. */
  #stop(): boolean {
    const abort = this.#abort
    if (abort === undefined) return false
    this.#abort = undefined
    this.stats.aborted = true
    abort.abort(new DOMException('hls.js aborted the load', 'AbortError'))
    return true
  }

  getResponseHeader(name: string): string | null {
    return this.#response?.headers.get(name) ?? null
  }

  /** Seconds the response sat in a cache (`Age`): hls.js's live playlist timing reads it. */
  getCacheAge(): number | null {
    const age = Number(this.getResponseHeader('Age'))
    return Number.isFinite(age) && age > 0 ? age : null
  }
}

function loaderClass(run: Load, session: MediaSession | undefined): HlsLoaderClass {
  return class extends HlsLoader {
    constructor(_config: unknown) {
      super(run, session)
    }
  }
}
