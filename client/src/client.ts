import {
  backoffDelayMs,
  bitfieldOf,
  CdnError,
  DEFAULT_CHUNK_SIZE_BYTES,
  errorCodeOf,
  errorMessageOf,
  MIN_STATS_GAP_MS,
  resourceId,
  verifyChunk,
  type FailureResponse,
  type HttpReason
} from '../../protocol/src/index.js'
import { ChunkFetcher, type Delivery, type FetchJob, type MediaHints } from './chunk-fetcher.js'
import { abortable } from './abortable.js'
import { chunkStream } from './chunk-stream.js'
import { edgeAllowed, resolveConfig, type ClientConfig, type ClientInit } from './config.js'
import { EdgeSet, type RankedEdge } from './edge-set.js'
import { Emitter } from './events.js'
import { Holdings } from './holdings.js'
import { edgeUrlFor, fetchManifestAt, fetchRange, networkFetch, rankEdges } from './http-source.js'
import { Limiter } from './limiter.js'
import { ManifestSource } from './manifest-source.js'
import { watchPlayback, type PlaybackElement } from './media/playback.js'
import { StreamBook } from './media/stream-stats.js'
import { awaitPeers } from './peer/peer-wait.js'
import type { Peer } from './peer/peer.js'
import { randomBinaryId, Swarm } from './peer/swarm.js'
import { chunksOf } from './range.js'
import { responseHead } from './response-head.js'
import { StatsReporter } from './stats-reporter.js'
import { sha256 } from './sha256.js'
import type { ChunkStore } from './storage/chunk-store.js'
import { createIdbStore } from './storage/idb-store.js'
import { createMemoryStore } from './storage/memory-store.js'
import { cacheLimit } from './storage/quota.js'
import { TrackerClient } from './tracker-client.js'
import { emptyBytes, type ClientEvents, type ClientStats, type Source } from './types.js'
import { UploadBucket, uploadAllowed, type ConnectionInfo } from './upload-policy.js'

/** Peer ids start with an Azureus-style client tag, like WebTorrent's `-WW0208-`. */
const PEER_ID_PREFIX = '-PC0001-'
/** HAVE frames go out at most once per resource per this many milliseconds. */
const HAVE_BATCH_MS = 100
/** The first re-ask for an empty edge list (before jitter); doubled each time it comes back empty. */
const EDGE_LIST_RETRY_MS = 1_000

/**
 * The SDK instance: fetches resources chunk by chunk from the cache, peers, edges and
 * the origin, verifies every chunk, keeps and shares what it verified.
 */
export class Client extends Emitter<ClientEvents> {
  readonly config: ClientConfig
  readonly #ready: Promise<void>
  #store: ChunkStore | undefined
  #holdings: Holdings | undefined
  #fetcher: ChunkFetcher<Peer> | undefined
  #tracker: TrackerClient | undefined
  #swarm: Swarm | undefined
  /** The next ask for the tracker's edge list while it has none for us. */
  #edgeListRetry: ReturnType<typeof setTimeout> | undefined
  #edges: EdgeSet
  #region: string | undefined
  #consented: boolean
  #cacheLimit: number
  #uploaded = 0
  readonly #peerSlots: Limiter
  readonly #httpSlots: Limiter
  readonly #bucket: UploadBucket
  readonly #manifests: ManifestSource
  readonly #bytes = emptyBytes()
  readonly #resources = new Map<string, ReturnType<typeof emptyBytes>>()
  readonly #streams = new StreamBook()
  /** What the next `p2pcdn:stats` report to the tracker says. */
  readonly #statsReport = new StatsReporter()
  #statsTimer: ReturnType<typeof setInterval> | undefined
  #statsSentAt = -Infinity
  /** Chunks of media resources being fetched over HTTP now, by resource id: what peers hear in FETCHING. */
  readonly #overHttp = new Map<string, Set<number>>()
  readonly #haveTimers = new Map<string, ReturnType<typeof setTimeout>>()
  /** Resource ids being fetched (with a count): never evicted meanwhile. */
  readonly #inUse = new Map<string, number>()
  readonly #fetches = new Set<AbortController>()
  /** Fetches that began before the swarm was joined, waiting for it (`#joined`). */
  readonly #joinWaiters = new Set<() => void>()
  readonly #onPageHide = (): void => {
    void this.destroy()
  }
  /** The chain of chunk writes; never rejects. */
  #keeping: Promise<void> = Promise.resolve()
  #destroyed = false

  constructor(init: ClientInit = {}) {
    super()
    this.config = resolveConfig(init)
    this.#region = this.config.region
    this.#consented = this.config.consent === 'granted'
    this.#cacheLimit = this.config.cacheBytes
    this.#peerSlots = new Limiter(this.config.peerConcurrency)
    this.#httpSlots = new Limiter(this.config.httpConcurrency)
    this.#bucket = new UploadBucket(this.config.uploadBytesPerSecond)
    // Until pings rank them (`ready`), configured edges are used in the order given.
    this.#edges = new EdgeSet(
      this.config.edges.map(url => ({ url, region: 'default', rttMs: Infinity })),
      this.config.edgeRetryMs
    )
    this.#manifests = new ManifestSource({
      config: this.config,
      edges: () => this.#edges,
      load: async (url, signal) => await fetchManifestAt(url, this.config.httpTimeoutMs, signal),
      report: (err, extra) => this.#report(err, extra)
    })
    // A page going away (or into the back/forward cache) must not keep peers waiting on it.
    if (typeof addEventListener === 'function') addEventListener('pagehide', this.#onPageHide)
    this.#ready = this.#start()
  }

  /** Resolves when storage is open and the edges are ranked. */
  get ready(): Promise<void> {
    return this.#ready
  }

  /**
   * The visitor's answer to `consent: 'required'`. `true` opens the tracker socket and
   * peer connections; `false` closes them again. Content keeps loading over HTTP either way.
   */
  consent(granted: boolean): void {
    if (this.#destroyed || granted === this.#consented) return
    this.#consented = granted
    if (granted) void this.#ready.then(async () => await this.#startPeering())
    else this.#stopPeering()
  }

  /**
   * A drop-in for `fetch(url)`: a `Response` whose body streams in byte order as chunks
   * arrive. A `Range: bytes=a-b` header gives a 206 with exactly those bytes, fetching
   * only the chunks they lie in; `init.signal` aborts every request in flight for it.
   * Methods other than GET and HEAD go to the network's `fetch` untouched. Resolves once
   * the first chunk is in; rejects with a coded error (ERR_HTTP when no source could be
   * had, ERR_INTEGRITY when every one sent bad bytes, ERR_ABORTED) when it cannot be.
   * A player integration passes `media` (its stream and the segment's deadline): then the
   * deadline decides between peers and HTTP (see `urgentWindowMs`), and the bytes count
   * in `stats().streams`.
   * @example
   * const res = await cdn.fetch('/video.mp4', { headers: { Range: 'bytes=0-1023' } })
   * const first1k = new Uint8Array(await res.arrayBuffer())
   */
  async fetch(input: string | URL, init: RequestInit & { media?: MediaHints } = {}): Promise<Response> {
    return (await this.#fetch(input, init, true))!
  }

  /**
   * `fetch` for what peers may share only: resolves with `undefined`, fetching nothing,
   * for a resource without a manifest (the edge made none: private, not cacheable, or
   * the edges are down). The service worker then fetches it itself, with the page's
   * credentials, as the page would have.
   */
  async fetchShared(input: string | URL, init: RequestInit = {}): Promise<Response | undefined> {
    return await this.#fetch(input, init, false)
  }

  async #fetch(
    input: string | URL,
    init: RequestInit & { media?: MediaHints },
    direct: boolean
  ): Promise<Response | undefined> {
    const method = (init.method ?? 'GET').toUpperCase()
    if (method !== 'GET' && method !== 'HEAD') return direct ? await networkFetch(String(input), init) : undefined
    const url = new URL(input, typeof location === 'undefined' ? undefined : location.href).href
    if (this.#destroyed) throw new CdnError('ERR_ABORTED', 'P2PCDN instance destroyed')
    const abort = new AbortController()
    const outer = init.signal ?? undefined
    const onOuterAbort = (): void => abort.abort(outer?.reason)
    outer?.addEventListener('abort', onOuterAbort, { once: true })
    if (outer?.aborted === true) onOuterAbort()
    this.#fetches.add(abort)
    const forget = (): void => {
      this.#fetches.delete(abort)
      outer?.removeEventListener('abort', onOuterAbort)
    }
    try {
      // With configured edges the manifest is asked at once, while storage opens.
      const manifestAsked =
        this.config.edges.length > 0
          ? this.#manifests.get(url, abort.signal)
          : abortable(this.#ready, abort.signal).then(async () => await this.#manifests.get(url, abort.signal))
      manifestAsked.catch(() => {}) // awaited below, once ready
      await abortable(this.#ready, abort.signal)
      // A segment the player needs later may come from peers: its bytes are not asked early.
      const media = init.media
      const soon = media === undefined || media.deadlineMs() <= this.config.urgentWindowMs
      const early =
        method === 'GET' && soon && !new Headers(init.headers).has('Range')
          ? this.#earlyBytes(url, abort.signal)
          : undefined
      const manifest = await manifestAsked
      if (manifest === undefined) {
        forget()
        abort.abort(new DOMException('no manifest', 'AbortError')) // the early bytes are not needed
        return direct ? await this.#fetchDirect(url, init, media?.stream) : undefined
      }
      const id = await resourceId(manifest, sha256)
      const range = new Headers(init.headers).get('Range')
      const { status, headers, want } = responseHead(manifest, range)
      if (method === 'HEAD' || want.end === want.start) {
        forget()
        abort.abort(new DOMException('no body', 'AbortError'))
        return new Response(null, { status, headers })
      }
      this.#holdings!.touch(id, manifest)
      const { first, last } = chunksOf(want, manifest.chunkSize)
      const job: FetchJob = {
        url,
        id,
        manifest,
        signal: abort.signal,
        first,
        head: first,
        ...(early === undefined ? {} : { early }),
        ...(media === undefined ? {} : { media })
      }
      this.#inUse.set(id, (this.#inUse.get(id) ?? 0) + 1)
      let loaded = 0
      const total = want.end - want.start
      // The first chunk is asked now and the Response waits for it, so a resource that no
      // source can deliver rejects `cdn.fetch` with its code (ERR_HTTP, ERR_INTEGRITY), as
      // a plain fetch rejects: a body failing later reaches `arrayBuffer()` or `text()` in
      // Chromium only as TypeError "Failed to fetch", its code lost (a reader keeps it).
      const head = this.#chunk(job, first)
      head.catch(() => {}) // awaited below
      const body = chunkStream(
        first,
        last,
        this.config.parallelChunks,
        range !== null,
        async index => {
          const bytes = await (index === first ? head : this.#chunk(job, index))
          const chunkStart = index * manifest.chunkSize
          const piece = bytes.subarray(
            Math.max(0, want.start - chunkStart),
            Math.min(bytes.length, want.end - chunkStart)
          )
          return piece
        },
        abort.signal,
        () => {
          forget()
          abort.abort(new DOMException('fetch finished', 'AbortError'))
          const n = (this.#inUse.get(id) ?? 1) - 1
          if (n === 0) this.#inUse.delete(id)
          else this.#inUse.set(id, n)
        },
        index => {
          job.head = index
        }
      )
      // Progress counts what the page was handed, in byte order.
      const progress = new TransformStream<Uint8Array, Uint8Array>({
        transform: (bytes, controller) => {
          loaded += bytes.length
          controller.enqueue(bytes)
          this.emit('progress', { url, loaded, total })
        }
      })
      const response = new Response(body.pipeThrough(progress), { status, headers })
      try {
        await abortable(head, abort.signal)
      } catch (err) {
        await response.body?.cancel(err).catch(() => {}) // its end releases the resource
        throw err
      }
      return response
    } catch (err) {
      forget()
      abort.abort(err)
      throw err
    }
  }

  stats(): ClientStats {
    const network = this.#bytes.peer + this.#bytes.edge + this.#bytes.origin
    return {
      bytes: { ...this.#bytes },
      uploaded: this.#uploaded,
      offload: network === 0 ? 0 : this.#bytes.peer / network,
      peerId: this.#swarm?.id,
      peers: [...(this.#swarm?.peers.values() ?? [])].map(p => ({ id: p.id, region: p.region })),
      region: this.#region,
      edge: this.#edges.chosen?.url,
      resources: Object.fromEntries([...this.#resources].map(([url, b]) => [url, { ...b }])),
      storage: this.#store?.kind,
      cache: { bytes: this.#holdings?.bytes ?? 0, limitBytes: this.#cacheLimit },
      streams: this.#streams.snapshot()
    }
  }

  /**
   * A playlist, DASH manifest or anything else that must be current: from the nearest
   * usable edge (the next one, then the origin, when an edge fails or answers 5xx),
   * never from peers or storage. Counted in `stats().bytes`, not in a stream's.
   */
  async fetchFromEdge(input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input, typeof location === 'undefined' ? undefined : location.href).href
    if (this.#destroyed) throw new CdnError('ERR_ABORTED', 'P2PCDN instance destroyed')
    await abortable(this.#ready, init.signal ?? new AbortController().signal)
    const edges = this.#edges
    for (const edge of edges.usable()) {
      try {
        const res = await networkFetch(edgeUrlFor(edge.url, url), init)
        if (res.status < 500) {
          edges.succeeded(edge.url)
          return this.#counted(url, res, 'edge')
        }
        edges.failed(edge.url)
      } catch (err) {
        init.signal?.throwIfAborted()
        edges.failed(edge.url)
        this.#report(err, { url })
      }
    }
    return this.#counted(url, await networkFetch(url, init), 'origin')
  }

  /**
   * Count `media`'s stalls and startup in `stats().streams[stream]` (and as `stall`
   * events) until the returned function is called. The player integrations call it.
   */
  watchPlayback(media: PlaybackElement, stream: string): () => void {
    return watchPlayback(media, {
      started: ms => this.#streams.started(stream, ms),
      stallBegan: () => this.#streams.stallBegan(stream),
      stallEnded: ms => {
        this.#streams.stallEnded(stream, ms)
        this.emit('stall', { stream, ms })
      }
    })
  }

  /**
   * Drop the stored chunks of `url` (a live segment the playhead has left behind), unless
   * a fetch is using them; peers hear that they are gone.
   */
  async evict(url: string): Promise<void> {
    const holdings = this.#holdings
    if (holdings === undefined) return
    const absolute = new URL(url, typeof location === 'undefined' ? undefined : location.href).href
    this.#keeping = this.#keeping.then(async () => {
      try {
        for (const gone of await holdings.drop(absolute, new Set(this.#inUse.keys())))
          this.#announceGone(gone.id, gone.chunkCount)
      } catch (err) {
        this.#report(err)
      }
    })
    await this.#keeping
  }

  /** Abort every fetch, close every connection and timer. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    if (typeof removeEventListener === 'function') removeEventListener('pagehide', this.#onPageHide)
    for (const abort of this.#fetches) abort.abort(new CdnError('ERR_ABORTED', 'P2PCDN instance destroyed'))
    this.#fetches.clear()
    for (const timer of this.#haveTimers.values()) clearTimeout(timer)
    this.#haveTimers.clear()
    // pagehide lands here too: the last report leaves while the socket is still open.
    this.#sendStats()
    this.#stopPeering()
    await this.#keeping
    await this.#holdings?.flush().catch(() => {})
    this.removeAll()
  }

  async #start(): Promise<void> {
    // The configured edges are pinged while storage opens.
    const ranked = this.#useEdges([])
    this.#store = await this.#openStore()
    const holdings = (this.#holdings = new Holdings(this.#store, await this.#store.resources()))
    if (this.#store.kind === 'indexeddb')
      this.#cacheLimit = cacheLimit(this.config.cacheBytes, await storageEstimate(), holdings.bytes)
    this.#fetcher = new ChunkFetcher<Peer>({
      peerTimeoutMs: this.config.peerTimeoutMs,
      store: this.#store,
      holdings,
      edges: () => this.#edges,
      peers: () => this.#swarm?.peers.values() ?? [],
      onPeerHave: listener => this.#swarm?.on('have', listener) ?? (() => {}),
      awaitPeers: async (job, index) => await this.#awaitPeers(job.id, index, job.signal),
      fetchRange: async (url, start, end, signal) =>
        await fetchRange(url, start, end, this.config.httpTimeoutMs, signal),
      region: () => this.#region,
      peerSlots: this.#peerSlots,
      httpSlots: this.#httpSlots,
      urgentWindowMs: this.config.urgentWindowMs,
      fetchingOverHttp: (job, index, active) => this.#fetchingOverHttp(job, index, active),
      ban: (peer, message) => this.#ban(peer, 'ERR_INTEGRITY', message),
      choke: (peer, message) => this.#ban(peer, 'ERR_TIMEOUT', message),
      report: (err, extra) => this.#report(err, extra)
    })
    await ranked
    // Configured edges serve from the start and the tracker's list joins them when it
    // comes. Without any, the first fetches would go to the origin: wait for the list
    // (bounded by TrackerClient's timeouts).
    const peering = this.#startPeering()
    if (this.config.edges.length === 0) await peering
  }

  /**
   * Rank the configured edges plus `more` (the tracker's list) and use them, fastest
   * first. A listed edge outside `edgeOrigins` is never pinged nor asked: the tracker,
   * or whoever tampers with its socket, does not choose where content comes from.
   */
  async #useEdges(more: Array<{ url: string; region: string }>): Promise<void> {
    const candidates = new Map<string, { url: string; region?: string }>()
    for (const url of this.config.edges) candidates.set(url, { url })
    for (const e of more) if (edgeAllowed(this.config.edgeOrigins, e.url)) candidates.set(e.url, e)
    // Edges pinged before keep their time: only new ones cost a ping.
    const known = this.#edges.edges.filter(e => Number.isFinite(e.rttMs))
    for (const e of known) candidates.delete(e.url)
    const ranked: RankedEdge[] = [...known, ...(await rankEdges([...candidates.values()]))].sort(
      (a, b) => a.rttMs - b.rttMs
    )
    // A region the operator configured outranks ping times: its edges come first.
    const region = this.config.region
    if (region !== undefined) ranked.sort((a, b) => Number(b.region === region) - Number(a.region === region))
    this.#edges = new EdgeSet(ranked, this.config.edgeRetryMs)
    this.#region = this.config.region ?? ranked[0]?.region ?? this.#region
  }

  /**
   * Open the tracker socket and, with P2P on, join the swarm. The edge list is asked
   * again each time the socket (re)opens: a page that started while the tracker was
   * down gets its edges once it is back (TrackerClient reconnects with backoff and jitter).
   */
  async #startPeering(): Promise<void> {
    const { tracker: url } = this.config
    if (url === undefined || this.#tracker !== undefined || this.#destroyed || !this.#consented) return
    const tracker = (this.#tracker = new TrackerClient(url))
    tracker.on('failure', failure => this.#onTrackerFailure(failure))
    if (this.config.statsIntervalMs > 0)
      this.#statsTimer = setInterval(() => this.#sendStats(), this.config.statsIntervalMs)
    let emptyLists = 0
    const takeEdges = async (): Promise<void> => {
      const edges = await tracker.edges(this.config.region)
      if (this.#tracker !== tracker) return
      if (edges.length > 0) {
        emptyLists = 0
        await this.#useEdges(edges)
        return
      }
      // A tracker that just came back lists no edge until the edges re-register (their
      // heartbeat): a page with no edge at all asks again, backing off up to edgeRetryMs.
      if (this.#edges.edges.length > 0 || this.#edgeListRetry !== undefined) return
      const ms = backoffDelayMs(emptyLists++, { minMs: EDGE_LIST_RETRY_MS, maxMs: this.config.edgeRetryMs })
      this.#edgeListRetry = setTimeout(() => {
        this.#edgeListRetry = undefined
        void takeEdges()
      }, ms)
    }
    let first = true
    tracker.on('open', () => {
      if (!first) void takeEdges()
    })
    await takeEdges()
    first = false
    if (this.config.p2p && this.#tracker === tracker) await this.#joinSwarm(tracker)
  }

  #stopPeering(): void {
    const swarm = this.#swarm
    const tracker = this.#tracker
    this.#swarm = undefined
    this.#tracker = undefined
    clearInterval(this.#statsTimer)
    this.#statsTimer = undefined
    clearTimeout(this.#edgeListRetry)
    this.#edgeListRetry = undefined
    swarm?.destroy()
    // Let the swarm's 'stopped' announce leave before the socket closes.
    if (tracker !== undefined) setTimeout(() => tracker.destroy(), 0)
  }

  async #openStore(): Promise<ChunkStore> {
    if (!this.config.persist) return createMemoryStore()
    try {
      return await createIdbStore(this.config.storeName)
    } catch (err) {
      this.emit('storage', { kind: 'memory', reason: errorMessageOf(err) })
      return createMemoryStore()
    }
  }

  async #joinSwarm(tracker: TrackerClient): Promise<void> {
    const holdings = this.#holdings!
    // A swarm name becomes a 20-byte info_hash, as WebTorrent derives one per torrent.
    const digest = await sha256(new TextEncoder().encode(this.config.swarm))
    if (this.#tracker !== tracker) return
    const swarm = new Swarm({
      tracker,
      infoHash: String.fromCharCode(...digest.subarray(0, 20)),
      peerId: randomBinaryId(PEER_ID_PREFIX),
      region: () => this.#region,
      maxPeers: this.config.maxPeers,
      iceServers: this.config.iceServers,
      provide: async (id, index) => await this.#provide(id, index),
      throttle: async bytes => await this.#bucket.take(bytes),
      peerUploadBytesPerSecond: this.config.peerUploadBytesPerSecond,
      chunksOf: id => holdings.manifest(id)?.chunks.length,
      holdings: () => holdings.all()
    })
    swarm.on('peer', e => this.emit('peer', e))
    swarm.on('uploaded', bytes => {
      this.#uploaded += bytes
    })
    swarm.on('attempt', connected => this.#statsReport.connection(connected))
    this.#swarm = swarm
    for (const wake of this.#joinWaiters) wake()
  }

  /**
   * A first visitor's first chunk, asked of the nearest edge at the same time as the
   * manifest, so that a small resource costs one round trip, not two. Only when no
   * peer is connected (they would serve it) and no version of the URL is held here (a
   * reload reads it from storage); the edge's default chunk size is assumed, and bytes
   * that do not verify against the manifest are dropped.
   */
  #earlyBytes(url: string, signal: AbortSignal): FetchJob['early'] {
    const edge = this.#edges.chosen
    if (edge === undefined || (this.#swarm?.peers.size ?? 0) > 0 || this.#holdings!.holdsUrl(url)) return undefined
    const bytes = fetchRange(
      edgeUrlFor(edge.url, url),
      0,
      DEFAULT_CHUNK_SIZE_BYTES,
      this.config.httpTimeoutMs,
      signal
    ).catch(() => undefined)
    return { index: 0, bytes }
  }

  /** Without a trusted manifest the resource is neither taken from peers nor shared. */
  async #fetchDirect(url: string, init: RequestInit, stream: string | undefined): Promise<Response> {
    if (stream !== undefined) this.#streams.segment(stream)
    return this.#counted(url, await networkFetch(url, init), 'origin', stream)
  }

  /** `res` with its body's bytes counted as they are read: bytes no peer carries, for want of a manifest. */
  #counted(url: string, res: Response, source: Source, stream?: string): Response {
    if (res.body === null) return res
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform: (bytes, controller) => {
        this.#count(url, source, bytes.length, stream, 'no-manifest')
        controller.enqueue(bytes)
      }
    })
    return new Response(res.body.pipeThrough(counter), {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers
    })
  }

  /** Give the swarm's peers a chance to connect and say what they hold (peer-wait.ts). */
  async #awaitPeers(id: string, first: number, signal: AbortSignal): Promise<void> {
    const { maxPeers, peerWaitMs: waitMs, peerConnectMs: connectMs } = this.config
    const started = performance.now()
    // A page's first requests come while the tracker is still being asked (its edge
    // list, then the swarm): the swarm gets the time a connection gets to appear.
    const tracker = this.#tracker
    if (this.#swarm === undefined && tracker !== undefined && this.config.p2p)
      await this.#joined(tracker, Math.min(waitMs, connectMs), signal)
    const swarm = this.#swarm
    if (swarm === undefined) return
    await awaitPeers({
      swarm,
      resourceId: id,
      first,
      maxPeers,
      waitMs: waitMs - (performance.now() - started),
      connectMs,
      signal,
      current: () => this.#swarm === swarm
    })
  }

  /** Resolves when the swarm is joined, the tracker closes, `ms` pass or `signal` aborts. */
  async #joined(tracker: TrackerClient, ms: number, signal: AbortSignal): Promise<void> {
    let wake = (): void => {}
    const woken = new Promise<void>(resolve => (wake = resolve))
    this.#joinWaiters.add(wake)
    const offClose = tracker.on('close', wake)
    const timer = setTimeout(wake, ms)
    signal.addEventListener('abort', wake, { once: true })
    await woken
    this.#joinWaiters.delete(wake)
    offClose()
    clearTimeout(timer)
    signal.removeEventListener('abort', wake)
  }

  async #chunk(job: FetchJob, index: number): Promise<Uint8Array> {
    const started = performance.now()
    const got: Delivery = await this.#fetcher!.fetch(job, index)
    const stream = job.media?.stream
    if (got.prefix > 0) this.#count(job.url, 'peer', got.prefix, stream)
    // With P2P off or before consent no peer was there to ask: that is the reason, whatever the fetcher saw.
    const reason = this.config.p2p && this.#consented && this.config.tracker !== undefined ? got.reason : 'p2p-off'
    this.#count(job.url, got.source, got.bytes.length - got.prefix, stream, reason)
    if (stream !== undefined && index === job.first) this.#streams.segment(stream)
    this.emit('chunk', {
      url: job.url,
      index,
      source: got.source,
      bytes: got.bytes.length,
      ms: performance.now() - started,
      ...(got.peer === undefined ? {} : { peer: got.peer.id }),
      ...(stream === undefined ? {} : { stream })
    })
    if (got.source !== 'cache') void this.#keep(job.id, index, got.bytes)
    return got.bytes
  }

  /** A peer that lied (ERR_INTEGRITY) or kept missing deadlines (ERR_TIMEOUT): gone for the session. */
  #ban(peer: Peer, code: 'ERR_INTEGRITY' | 'ERR_TIMEOUT', message: string): void {
    this.emit('error', { code, message, peer: peer.id })
    this.#swarm?.ban(peer)
    peer.destroy()
  }

  /**
   * Store a verified chunk. Writes run one after another so that eviction sees every
   * earlier write (concurrent ones would all think they fit), and `destroy()` can wait
   * for the last one before it saves the index.
   */
  async #keep(id: string, index: number, bytes: Uint8Array): Promise<void> {
    this.#keeping = this.#keeping.then(async () => await this.#keepNow(id, index, bytes))
    await this.#keeping
  }

  /** Store a verified chunk within the cache limit, evicting least recently used resources. */
  async #keepNow(id: string, index: number, bytes: Uint8Array): Promise<void> {
    const holdings = this.#holdings!
    try {
      const { dropped, fits } = await holdings.evict(
        this.#cacheLimit,
        bytes.length,
        new Set([...this.#inUse.keys(), id])
      )
      for (const gone of dropped) this.#announceGone(gone.id, gone.chunkCount)
      if (!fits) return
      await this.#store!.putChunk(id, index, bytes)
    } catch (err) {
      this.#report(err)
      return
    }
    holdings.add(id, index)
    this.#announceHave(id)
  }

  /** HAVE frames are batched: one per resource per 100 ms, with the whole bitfield. */
  #announceHave(id: string): void {
    if (this.#haveTimers.has(id)) return
    this.#haveTimers.set(
      id,
      setTimeout(() => {
        this.#haveTimers.delete(id)
        const have = this.#holdings?.bitfield(id)
        if (have === undefined || this.#swarm === undefined) return
        for (const peer of this.#swarm.peers.values()) peer.sendHave(have.resourceId, have.chunkCount, have.bitfield)
      }, HAVE_BATCH_MS)
    )
  }

  /**
   * A media chunk's HTTP fetch started or failed: every peer hears the whole set of this
   * resource's chunks on their way (FETCHING), so that the ones that want them wait for
   * our HAVE. A delivered one leaves the set quietly: the HAVE that follows tells them.
   */
  #fetchingOverHttp(job: FetchJob, index: number, state: 'started' | 'delivered' | 'failed'): void {
    const set = this.#overHttp.get(job.id) ?? new Set<number>()
    if (state === 'started') set.add(index)
    else set.delete(index)
    if (set.size === 0) this.#overHttp.delete(job.id)
    else this.#overHttp.set(job.id, set)
    if (state === 'delivered') return
    const count = job.manifest.chunks.length
    const bitfield = bitfieldOf(count, set)
    for (const peer of this.#swarm?.peers.values() ?? []) peer.sendFetching(job.id, count, bitfield)
  }

  /** An evicted resource: peers learn we hold none of it, so they stop asking. */
  #announceGone(id: string, chunkCount: number): void {
    for (const peer of this.#swarm?.peers.values() ?? []) peer.sendHave(id, chunkCount, bitfieldOf(chunkCount, []))
  }

  async #provide(id: string, index: number): Promise<Uint8Array | undefined> {
    const connection = (navigator as Navigator & { connection?: ConnectionInfo }).connection
    if (!uploadAllowed(this.config.upload, connection) || !this.#holdings!.has(id, index)) return undefined
    const manifest = this.#holdings!.manifest(id)
    const bytes = await this.#store!.getChunk(id, index)
    // Share only what still verifies: storage can rot.
    if (manifest === undefined || bytes === undefined || !(await verifyChunk(manifest, index, bytes, sha256)))
      return undefined
    return bytes
  }

  /** The one place bytes are counted: `stats()`, a stream's figures, and the next report to the tracker. */
  #count(url: string, source: Source, bytes: number, stream: string | undefined, reason?: HttpReason): void {
    this.#statsReport.count(url, source, bytes, reason)
    if (stream !== undefined) this.#streams.count(stream, source, bytes)
    this.#bytes[source] += bytes
    let r = this.#resources.get(url)
    if (r === undefined) this.#resources.set(url, (r = emptyBytes()))
    r[source] += bytes
  }

  /** Send what was fetched since the last report, if the tracker socket is open (else it keeps adding up). */
  #sendStats(): void {
    const tracker = this.#tracker
    if (tracker?.connected !== true || this.config.statsIntervalMs === 0) return
    // The tracker refuses a second report within MIN_STATS_GAP_MS: a pagehide right after
    // a periodic report drops that last second rather than earn an error.
    const now = performance.now()
    if (now - this.#statsSentAt < MIN_STATS_GAP_MS) return
    const report = this.#statsReport.take(this.config.swarm, this.#region)
    if (report === undefined) return
    tracker.send(report)
    this.#statsSentAt = now
  }

  /** A failure the SDK recovered from, as the page's `error` event: coded by what it is (`errorCodeOf`). */
  #report(err: unknown, extra: { peer?: string; url?: string } = {}): void {
    this.emit('error', { code: errorCodeOf(err), message: errorMessageOf(err), ...extra })
  }

  /**
   * The tracker refused or failed a request (`failure reason`): the page hears it as
   * ERR_TRACKER with the tracker's `reason` when it gave one. Content goes on over HTTP;
   * the swarm asks again later (see Swarm), not at once.
   */
  #onTrackerFailure(failure: FailureResponse): void {
    const reason = failure.reason === undefined ? {} : { reason: failure.reason }
    this.emit('error', { code: 'ERR_TRACKER', message: failure['failure reason'], ...reason })
  }
}

/** `navigator.storage.estimate()`, or undefined where the browser has none. */
async function storageEstimate(): Promise<StorageEstimate | undefined> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- absent outside secure contexts
    return await navigator.storage?.estimate()
  } catch {
    return undefined
  }
}
