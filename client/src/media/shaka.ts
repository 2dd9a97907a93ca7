/**
 * Shaka Player integration: a networking scheme plugin for http(s) that sends SEGMENT
 * requests through the SDK, manifests to the edge (never peers), and everything else
 * (licenses, keys, timing) through Shaka's own fetch plugin. The `shaka` namespace is
 * the page's; nothing here imports Shaka.
 */
import type { Client } from '../client.js'
import { bodyLength, readBody } from './read-body.js'
import { MediaSession, type MediaSessionOptions, type SessionMedia } from './session.js'

/** The parts of `shaka.extern.Request` read here. */
export interface ShakaRequest {
  method: string
  headers: Record<string, string>
  uris: string[]
}

export interface ShakaResponse {
  uri: string
  originalUri: string
  data: ArrayBuffer
  status: number
  headers: Record<string, string>
  timeMs?: number
  fromCache?: boolean
  originalRequest: ShakaRequest
}

type Progress = (timeMs: number, bytes: number, remaining: number) => void
type SchemePlugin = (
  uri: string,
  request: ShakaRequest,
  requestType: number,
  progressUpdated: Progress,
  headersReceived: (headers: Record<string, string>) => void,
  config: unknown
) => unknown

/** What is used of the page's `shaka` namespace. */
export interface ShakaNamespace {
  net: {
    NetworkingEngine: {
      registerScheme: (scheme: string, plugin: SchemePlugin, priority?: number, progressSupport?: boolean) => void
      unregisterScheme: (scheme: string) => void
      RequestType: { MANIFEST: number; SEGMENT: number }
      PluginPriority: { APPLICATION: number }
    }
    HttpFetchPlugin: { parse: SchemePlugin }
  }
  util: {
    AbortableOperation: (new (promise: Promise<unknown>, onAbort: () => Promise<unknown>) => unknown) & {
      aborted: () => unknown
    }
    Error: new (severity: number, category: number, code: number, ...data: unknown[]) => Error
  }
}

/** What `attach` reads of a `shaka.Player`. */
export interface ShakaPlayerLike {
  getMediaElement: () => SessionMedia | null
  getNetworkingEngine: () => {
    registerRequestFilter: (filter: (type: number, request: ShakaRequest, context?: ShakaContext) => void) => void
  } | null
  isLive: () => boolean
  addEventListener: (type: string, listener: () => void) => void
}

interface ShakaContext {
  segment?: { startTime: number; endTime: number } | null
}

export interface ShakaIntegration {
  /** Register the plugin for http: and https: (Shaka's own stays registered beneath it). Once per page. */
  install: () => void
  /** Unregister it; Shaka's own plugins take over again. */
  uninstall: () => void
  /**
   * Give the integration the player: segment deadlines follow its media element's
   * playhead and each segment's start time, stalls are counted, live segments behind the
   * playhead leave storage. Call after `player.attach(video)`.
   */
  attach: (player: ShakaPlayerLike) => void
  session: MediaSession
}

// shaka.util.Error's numbers, from its documentation (stable across versions).
const SEVERITY_RECOVERABLE = 1
const SEVERITY_CRITICAL = 2
const CATEGORY_NETWORK = 1
const BAD_HTTP_STATUS = 1001
const HTTP_ERROR = 1002

/** Where a request filter leaves a segment's start time for the plugin (the request object is shared). */
const TIMES = Symbol('p2pcdn segment times')
type Tagged = ShakaRequest & { [TIMES]?: { start: number; end: number }; [key: symbol]: unknown }

/**
 * @example
 * const p2p = P2PCDN.shaka(cdn, shaka, { stream: 'main' })
 * p2p.install()
 * const player = new shaka.Player()
 * await player.attach(video)
 * p2p.attach(player)
 * await player.load('https://origin.example/dash/manifest.mpd')
 */
export function shakaPlugin(cdn: Client, shaka: ShakaNamespace, options: MediaSessionOptions = {}): ShakaIntegration {
  const session = new MediaSession(cdn, options)
  const { NetworkingEngine, HttpFetchPlugin } = shaka.net
  const { AbortableOperation } = shaka.util

  const plugin: SchemePlugin = (uri, request, requestType, progressUpdated, headersReceived, config) => {
    const segment = requestType === NetworkingEngine.RequestType.SEGMENT
    const manifest = requestType === NetworkingEngine.RequestType.MANIFEST
    if ((!segment && !manifest) || request.method !== 'GET')
      return HttpFetchPlugin.parse(uri, request, requestType, progressUpdated, headersReceived, config)
    const abort = new AbortController()
    const started = performance.now()
    const times = (request as Tagged)[TIMES]
    const work = (async (): Promise<ShakaResponse> => {
      let res: Response
      try {
        const init = { headers: request.headers, signal: abort.signal }
        res = segment
          ? await cdn.fetch(uri, { ...init, media: session.hints(times?.start) })
          : await cdn.fetchFromEdge(uri, init)
      } catch (err) {
        if (abort.signal.aborted) throw err
        throw new shaka.util.Error(SEVERITY_RECOVERABLE, CATEGORY_NETWORK, HTTP_ERROR, uri, err, requestType)
      }
      const headers: Record<string, string> = {}
      res.headers.forEach((value, name) => (headers[name] = value))
      headersReceived(headers)
      const data = await readWithProgress(res, progressUpdated)
      if (!res.ok) {
        const severity = res.status === 401 || res.status === 403 ? SEVERITY_CRITICAL : SEVERITY_RECOVERABLE
        const text = new TextDecoder().decode(data)
        throw new shaka.util.Error(
          severity,
          CATEGORY_NETWORK,
          BAD_HTTP_STATUS,
          uri,
          res.status,
          text,
          headers,
          requestType,
          uri
        )
      }
      if (segment && times !== undefined) session.played(uri, times.end)
      return {
        uri,
        originalUri: uri,
        data,
        status: res.status,
        headers,
        timeMs: performance.now() - started,
        fromCache: false,
        originalRequest: request
      }
    })()
    return new AbortableOperation(work, async () => {
      abort.abort(new DOMException('Shaka aborted the request', 'AbortError'))
    })
  }

  return {
    install() {
      for (const scheme of ['http', 'https'])
        NetworkingEngine.registerScheme(scheme, plugin, NetworkingEngine.PluginPriority.APPLICATION, true)
    },
    uninstall() {
      // Unregistering drops every plugin of the scheme; Shaka's own fetch plugin comes back.
      for (const scheme of ['http', 'https']) {
        NetworkingEngine.unregisterScheme(scheme)
        NetworkingEngine.registerScheme(scheme, HttpFetchPlugin.parse, undefined, true)
      }
    },
    attach(player) {
      session.setMedia(player.getMediaElement() ?? undefined)
      session.live = player.isLive()
      player.addEventListener('loaded', () => {
        session.live = player.isLive()
      })
      player.getNetworkingEngine()?.registerRequestFilter((type, request, context) => {
        const segment = context?.segment
        if (type === NetworkingEngine.RequestType.SEGMENT && segment != null)
          (request as Tagged)[TIMES] = { start: segment.startTime, end: segment.endTime }
      })
    },
    session
  }
}

/** The whole body, Shaka told of each piece (its ABR samples bandwidth from these). */
async function readWithProgress(res: Response, progress: Progress): Promise<ArrayBuffer> {
  const total = bodyLength(res)
  let loaded = 0
  let last = performance.now()
  const data = await readBody(res, bytes => {
    loaded += bytes
    const now = performance.now()
    progress(now - last, bytes, Math.max(0, total - loaded))
    last = now
  })
  return data.buffer
}
