import {
  chunkBounds, CdnError, IntegrityError, resourceId, verifyChunk, type Manifest
} from '../../protocol/src/index.js'
import { chunkStream } from './chunk-stream.js'
import { resolveConfig, type ClientConfig, type ClientInit } from './config.js'
import { Emitter } from './events.js'
import { Holdings } from './holdings.js'
import { edgeUrlFor, fetchManifest, fetchRange, rankEdges, type RankedEdge } from './http-source.js'
import type { Peer } from './peer/peer.js'
import { randomBinaryId, Swarm } from './peer/swarm.js'
import { sha256 } from './sha256.js'
import type { ChunkStore } from './storage/chunk-store.js'
import { createIdbStore } from './storage/idb-store.js'
import { createMemoryStore } from './storage/memory-store.js'
import { TrackerClient } from './tracker-client.js'
import { emptyBytes, type ClientEvents, type ClientStats, type Source } from './types.js'

/** Peer ids start with an Azureus-style client tag, like WebTorrent's `-WW0208-`. */
const PEER_ID_PREFIX = '-PC0001-'
/** Peers tried for one chunk before falling back to HTTP. */
const PEER_ATTEMPTS = 2

/**
 * The SDK instance: fetches resources chunk by chunk from the cache, peers, edges and
 * the origin, verifies every chunk, keeps and shares what it verified.
 */
export class Client extends Emitter<ClientEvents> {
  readonly config: ClientConfig
  readonly #ready: Promise<void>
  #store: ChunkStore | undefined
  #holdings: Holdings | undefined
  #tracker: TrackerClient | undefined
  #swarm: Swarm | undefined
  #edges: RankedEdge[] = []
  #region: string | undefined
  #uploaded = 0
  readonly #bytes = emptyBytes()
  readonly #resources = new Map<string, ReturnType<typeof emptyBytes>>()
  readonly #haveTimers = new Map<string, ReturnType<typeof setTimeout>>()
  #destroyed = false

  constructor (init: ClientInit = {}) {
    super()
    this.config = resolveConfig(init)
    this.#region = this.config.region
    this.#ready = this.#start()
  }

  /** Resolves when storage is open and the edges are ranked. */
  get ready (): Promise<void> {
    return this.#ready
  }

  /**
   * A drop-in for `fetch(url)`: a `Response` whose body streams in byte order.
   * @example const res = await cdn.fetch('/video.mp4'); const blob = await res.blob()
   */
  async fetch (input: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = new URL(input, typeof location === 'undefined' ? undefined : location.href).href
    await this.#ready
    const manifest = await this.#manifest(url, init.signal ?? undefined)
    if (manifest === undefined) return await this.#fetchFromOrigin(url, init)
    const id = await resourceId(manifest, sha256)
    this.#holdings!.touch(id, manifest)
    await this.#awaitPeersWith(id, manifest)
    const abort = new AbortController()
    init.signal?.addEventListener('abort', () => abort.abort(init.signal?.reason))
    const body = chunkStream(0, manifest.chunks.length - 1, this.config.parallelChunks,
      async index => await this.#chunk(url, id, manifest, index, abort.signal), () => abort.abort())
    return new Response(manifest.size === 0 ? null : body, {
      status: 200,
      headers: { 'Content-Type': manifest.type, 'Content-Length': String(manifest.size) }
    })
  }

  stats (): ClientStats {
    const network = this.#bytes.peer + this.#bytes.edge + this.#bytes.origin
    return {
      bytes: { ...this.#bytes },
      uploaded: this.#uploaded,
      offload: network === 0 ? 0 : this.#bytes.peer / network,
      peers: [...(this.#swarm?.peers.values() ?? [])].map(p => ({ id: p.id, region: p.region })),
      region: this.#region,
      edge: this.#edges[0]?.url,
      resources: Object.fromEntries([...this.#resources].map(([url, b]) => [url, { ...b }])),
      storage: this.#store?.kind
    }
  }

  /** Close every connection and timer. Safe to call twice. */
  async destroy (): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    for (const timer of this.#haveTimers.values()) clearTimeout(timer)
    this.#swarm?.destroy()
    // Let the swarm's 'stopped' announce leave before the socket closes.
    await new Promise(resolve => setTimeout(resolve, 0))
    this.#tracker?.destroy()
    await this.#holdings?.flush().catch(() => {})
    this.removeAll()
  }

  async #start (): Promise<void> {
    this.#store = await this.#openStore()
    this.#holdings = new Holdings(this.#store, await this.#store.resources())
    const { tracker } = this.config
    if (tracker !== undefined) this.#tracker = new TrackerClient(tracker)
    const candidates = new Map<string, { url: string, region?: string }>()
    for (const url of this.config.edges) candidates.set(url, { url })
    for (const e of await this.#tracker?.edges(this.config.region) ?? []) candidates.set(e.url, { url: e.url, region: e.region })
    this.#edges = await rankEdges([...candidates.values()])
    this.#region ??= this.#edges[0]?.region
    if (this.#tracker !== undefined && this.config.p2p && !this.#destroyed) await this.#joinSwarm(this.#tracker)
  }

  async #openStore (): Promise<ChunkStore> {
    if (!this.config.persist) return createMemoryStore()
    try {
      return await createIdbStore(this.config.storeName)
    } catch (err) {
      this.emit('storage', { kind: 'memory', reason: err instanceof Error ? err.message : String(err) })
      return createMemoryStore()
    }
  }

  async #joinSwarm (tracker: TrackerClient): Promise<void> {
    const holdings = this.#holdings!
    // A swarm name becomes a 20-byte info_hash, as WebTorrent derives one per torrent.
    const digest = await sha256(new TextEncoder().encode(this.config.swarm))
    if (this.#destroyed) return
    const swarm = new Swarm({
      tracker,
      infoHash: String.fromCharCode(...digest.subarray(0, 20)),
      peerId: randomBinaryId(PEER_ID_PREFIX),
      region: () => this.#region,
      maxPeers: this.config.maxPeers,
      iceServers: this.config.iceServers,
      provide: async (id, index) => await this.#provide(id, index),
      holdings: () => holdings.all()
    })
    swarm.on('peer', e => this.emit('peer', e))
    swarm.on('uploaded', bytes => { this.#uploaded += bytes })
    this.#swarm = swarm
  }

  async #manifest (url: string, signal: AbortSignal | undefined): Promise<Manifest | undefined> {
    for (const edge of this.#edges) {
      try {
        return await fetchManifest(edge.url, url, this.config.httpTimeoutMs, signal)
      } catch (err) {
        if (signal?.aborted === true) throw err
        this.#report(err)
      }
    }
    return undefined
  }

  /** Without a trusted manifest the resource is neither taken from peers nor shared. */
  async #fetchFromOrigin (url: string, init: RequestInit): Promise<Response> {
    const res = await fetch(url, init)
    if (res.body === null) return res
    const counter = new TransformStream<Uint8Array, Uint8Array>({
      transform: (bytes, controller) => { this.#count(url, 'origin', bytes.length); controller.enqueue(bytes) }
    })
    return new Response(res.body.pipeThrough(counter), { status: res.status, statusText: res.statusText, headers: res.headers })
  }

  /**
   * When the swarm has other peers, give them a moment to connect and say what they
   * hold; otherwise the first chunks would all go to HTTP.
   */
  async #awaitPeersWith (id: string, manifest: Manifest): Promise<void> {
    const swarm = this.#swarm
    if (swarm === undefined || manifest.chunks.every((_, i) => this.#holdings!.has(id, i))) return
    const someoneHas = (): boolean => [...swarm.peers.values()].some(p => p.has(id, 0))
    if (someoneHas() || (swarm.announced && swarm.others === 0)) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(done, this.config.peerWaitMs)
      const offHave = swarm.on('have', () => { if (someoneHas()) done() })
      function done (): void { clearTimeout(timer); offHave(); resolve() }
    })
  }

  async #chunk (url: string, id: string, manifest: Manifest, index: number, signal: AbortSignal): Promise<Uint8Array> {
    const started = performance.now()
    const deliver = (bytes: Uint8Array, source: Source, peer?: Peer): Uint8Array => {
      this.#count(url, source, bytes.length)
      this.emit('chunk', { url, index, source, bytes: bytes.length, ms: performance.now() - started, ...(peer === undefined ? {} : { peer: peer.id }) })
      if (source !== 'cache') void this.#keep(id, index, bytes)
      return bytes
    }
    const verified = async (bytes: Uint8Array): Promise<boolean> => await verifyChunk(manifest, index, bytes, sha256)

    if (this.#holdings!.has(id, index)) {
      const bytes = await this.#store!.getChunk(id, index).catch(() => undefined)
      if (bytes !== undefined && await verified(bytes)) return deliver(bytes, 'cache')
    }
    for (const peer of this.#peersWith(id, index).slice(0, PEER_ATTEMPTS)) {
      if (signal.aborted) break
      const { start, end } = chunkBounds(manifest, index)
      try {
        const bytes = await peer.request(id, index, end - start, this.config.peerTimeoutMs)
        if (await verified(bytes)) return deliver(bytes, 'peer', peer)
        this.emit('error', { code: 'ERR_INTEGRITY', message: `peer sent a bad chunk ${index} of ${url}`, peer: peer.id })
        this.#swarm?.ban(peer)
      } catch (err) {
        this.#report(err, peer.id)
      }
    }
    const { start, end } = chunkBounds(manifest, index)
    const http: Array<{ source: Source, url: string }> = [
      ...this.#edges.map(e => ({ source: 'edge' as const, url: edgeUrlFor(e.url, url) })),
      { source: 'origin', url }
    ]
    for (const { source, url: from } of http) {
      if (signal.aborted) break
      try {
        const bytes = await fetchRange(from, start, end, this.config.httpTimeoutMs, signal)
        if (await verified(bytes)) return deliver(bytes, source)
        this.emit('error', { code: 'ERR_INTEGRITY', message: `${from} sent a bad chunk ${index}` })
      } catch (err) {
        this.#report(err)
      }
    }
    if (signal.aborted) throw new CdnError('ERR_ABORTED', 'fetch aborted')
    throw new IntegrityError(`no source delivered a valid chunk ${index} of ${url}`)
  }

  /** Peers that announced the chunk, least busy and fastest first. */
  #peersWith (id: string, index: number): Peer[] {
    if (this.#swarm === undefined) return []
    return [...this.#swarm.peers.values()]
      .filter(p => p.has(id, index))
      .sort((a, b) => a.load - b.load || b.throughput - a.throughput)
  }

  async #keep (id: string, index: number, bytes: Uint8Array): Promise<void> {
    try {
      await this.#store!.putChunk(id, index, bytes)
    } catch (err) {
      this.#report(err)
      return
    }
    this.#holdings!.add(id, index)
    this.#announceHave(id)
  }

  /** HAVE frames are batched: one per resource per 100 ms, with the whole bitfield. */
  #announceHave (id: string): void {
    if (this.#haveTimers.has(id)) return
    this.#haveTimers.set(id, setTimeout(() => {
      this.#haveTimers.delete(id)
      const have = this.#holdings?.bitfield(id)
      if (have === undefined || this.#swarm === undefined) return
      for (const peer of this.#swarm.peers.values()) peer.sendHave(have.resourceId, have.chunkCount, have.bitfield)
    }, 100))
  }

  async #provide (id: string, index: number): Promise<Uint8Array | undefined> {
    if (!this.config.upload || !this.#holdings!.has(id, index)) return undefined
    const manifest = this.#holdings!.manifest(id)
    const bytes = await this.#store!.getChunk(id, index)
    // Share only what still verifies: storage can rot.
    if (manifest === undefined || bytes === undefined || !(await verifyChunk(manifest, index, bytes, sha256))) return undefined
    return bytes
  }

  #count (url: string, source: Source, bytes: number): void {
    this.#bytes[source] += bytes
    let r = this.#resources.get(url)
    if (r === undefined) this.#resources.set(url, r = emptyBytes())
    r[source] += bytes
  }

  #report (err: unknown, peer?: string): void {
    const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'ERR_HTTP'
    this.emit('error', { code, message: err instanceof Error ? err.message : String(err), ...(peer === undefined ? {} : { peer }) })
  }
}
