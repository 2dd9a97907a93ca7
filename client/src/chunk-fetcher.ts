import { chunkBounds, IntegrityError, verifyChunk, type Manifest } from '../../protocol/src/index.js'
import type { ClientConfig } from './config.js'
import type { EdgeSet } from './edge-set.js'
import type { Holdings } from './holdings.js'
import { edgeUrlFor, fetchRange, HttpError } from './http-source.js'
import type { Limiter } from './limiter.js'
import { receivedOf, type Peer } from './peer/peer.js'
import { sha256 } from './sha256.js'
import type { ChunkStore } from './storage/chunk-store.js'
import type { Source } from './types.js'

/** One `fetch()` as the scheduler sees it. */
export interface FetchJob {
  url: string
  id: string
  manifest: Manifest
  signal: AbortSignal
  /** Chunks of this fetch not asked for yet; 0 means only the last chunks are in flight. */
  unstarted: number
}

/** A verified chunk and who sent it; `prefix` bytes came from `peer` before it stalled. */
export interface Delivery {
  bytes: Uint8Array
  source: Source
  peer?: Peer
  /** Bytes at the start that a peer sent before another source finished the chunk. */
  prefix: number
}

export interface ChunkFetcherDeps {
  config: ClientConfig
  store: ChunkStore
  holdings: Holdings
  edges: () => EdgeSet
  /** Connected peers (none without a swarm). */
  peers: () => Iterable<Peer>
  /** Subscribe to HAVE updates from any peer; returns the unsubscribe. */
  onPeerHave: (listener: () => void) => () => void
  region: () => string | undefined
  peerSlots: Limiter
  httpSlots: Limiter
  ban: (peer: Peer, message: string) => void
  report: (err: unknown, extra?: { peer?: string, url?: string }) => void
}

/** Peers tried for one chunk before HTTP. */
const PEER_ATTEMPTS = 2
/** How often an in-flight peer request checks whether the end of its fetch could race HTTP. */
const RACE_CHECK_MS = 250
/**
 * A peer request is raced only once it has taken this many times what the peer's
 * measured throughput predicts (and at least RACE_MIN_MS): racing every tail chunk would
 * double the bytes of small fetches. Unmeasured peers are left to the stall timeout.
 */
const RACE_SLOWDOWN = 3
const RACE_MIN_MS = 2000

/**
 * Finds each chunk a verified copy: own storage → peers that announced it (same region,
 * faster, less busy first) → nearest usable edge → next edge → origin. A peer that
 * stalls leaves its bytes behind and HTTP continues from there; at the end of a fetch,
 * idle HTTP races the peers still sending.
 */
export class ChunkFetcher {
  /** Fetches whose leader went quiet once: they stop waiting for it. */
  readonly #leaderless = new WeakSet<FetchJob>()

  constructor (readonly deps: ChunkFetcherDeps) {}

  async fetch (job: FetchJob, index: number): Promise<Delivery> {
    const { holdings, store } = this.deps
    if (holdings.has(job.id, index)) {
      const bytes = await store.getChunk(job.id, index).catch(() => undefined)
      if (bytes !== undefined && await this.#valid(job.manifest, index, bytes)) return { bytes, source: 'cache', prefix: 0 }
    }
    if (this.#peersWith(job.id, index).length === 0) await this.#awaitLeader(job, index)
    let prefix: Uint8Array = new Uint8Array(0)
    let stalled: Peer | undefined
    for (const peer of this.#peersWith(job.id, index).slice(0, PEER_ATTEMPTS)) {
      job.signal.throwIfAborted()
      try {
        const got = await this.#fromPeer(job, index, peer)
        if (got !== undefined) return got
      } catch (err) {
        job.signal.throwIfAborted()
        this.deps.report(err, { peer: peer.id, url: job.url })
        const received = receivedOf(err)
        if (received.length > 0) {
          // Another peer cannot start mid-chunk, HTTP Range can: keep these bytes.
          prefix = received
          stalled = peer
          break
        }
      }
    }
    const got = await this.#fromHttp(job, index, prefix, job.signal)
    if (got.prefix === 0 && prefix.length > 0 && stalled !== undefined) this.deps.ban(stalled, `peer sent bad bytes of chunk ${index} of ${job.url}`)
    return got.prefix > 0 ? { ...got, peer: stalled } : got
  }

  /**
   * A connected peer that holds more of this resource than we do is fetching it too:
   * waiting for its HAVE costs less than a second copy from the edge, and it is what
   * keeps a busy edge at about one copy per swarm. Bounded by `peerTimeoutMs`; a fetch
   * whose leader went quiet once does not wait again.
   */
  async #awaitLeader (job: FetchJob, index: number): Promise<void> {
    if (this.#leaderless.has(job)) return
    const ours = this.deps.holdings.count(job.id)
    const ahead = (): boolean => this.#candidates().some(p => p.heldCount(job.id) > ours)
    if (!ahead()) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        off()
        job.signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(() => { this.#leaderless.add(job); done() }, this.deps.config.peerTimeoutMs)
      const off = this.deps.onPeerHave(() => { if (this.#peersWith(job.id, index).length > 0 || !ahead()) done() })
      job.signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Verified bytes from `peer`, or undefined when it lied (it is banned then). */
  async #fromPeer (job: FetchJob, index: number, peer: Peer): Promise<Delivery | undefined> {
    const { start, end } = chunkBounds(job.manifest, index)
    const release = await this.deps.peerSlots.acquire(job.signal)
    const ask = new AbortController()
    const stop = (): void => ask.abort(job.signal.reason)
    job.signal.addEventListener('abort', stop, { once: true })
    try {
      const request = peer.request(job.id, index, end - start, this.deps.config.peerTimeoutMs, ask.signal)
      const fromPeer = request.then(async bytes => {
        if (await this.#valid(job.manifest, index, bytes)) return { bytes, source: 'peer' as const, peer, prefix: 0 }
        this.deps.ban(peer, `peer sent a bad chunk ${index} of ${job.url}`)
        return undefined
      })
      const first = await Promise.race([fromPeer, this.#tailIdle(job, request, peer, end - start)])
      if (first !== 'race') return first
      // The end of the fetch with HTTP idle: ask HTTP too and take whichever verifies first.
      const http = new AbortController()
      job.signal.addEventListener('abort', () => http.abort(job.signal.reason), { once: true })
      const fromHttp = this.#fromHttp(job, index, new Uint8Array(0), http.signal)
      fromHttp.catch(() => {})
      const winner = await Promise.any([
        fromPeer.then(d => d ?? Promise.reject(new IntegrityError('peer lied'))),
        fromHttp
      ]).catch(() => undefined)
      if (winner === undefined) throw new IntegrityError(`no source delivered chunk ${index}`)
      if (winner.source === 'peer') http.abort()
      else ask.abort()
      return winner
    } finally {
      job.signal.removeEventListener('abort', stop)
      release()
    }
  }

  /**
   * Resolves 'race' once nothing else of the fetch waits, an HTTP slot is idle, and the
   * peer is clearly slower than it was.
   */
  async #tailIdle (job: FetchJob, pending: Promise<unknown>, peer: Peer, size: number): Promise<'race'> {
    const started = performance.now()
    const expectedMs = peer.throughput === 0 ? Infinity : size / peer.throughput
    return await new Promise(resolve => {
      const timer = setInterval(() => {
        const late = performance.now() - started >= Math.max(RACE_MIN_MS, RACE_SLOWDOWN * expectedMs)
        if (late && job.unstarted === 0 && this.deps.httpSlots.idle > 0) {
          clearInterval(timer)
          resolve('race')
        }
      }, RACE_CHECK_MS)
      const stop = (): void => clearInterval(timer)
      pending.then(stop, stop)
    })
  }

  /** The chunk over HTTP, continuing after `prefix`: nearest usable edge, next edge, origin. */
  async #fromHttp (job: FetchJob, index: number, prefix: Uint8Array, signal: AbortSignal): Promise<Delivery> {
    const { config, httpSlots } = this.deps
    const edges = this.deps.edges()
    const { start, end } = chunkBounds(job.manifest, index)
    const sources: Array<{ source: Source, url: string, edge?: string }> = [
      ...edges.usable().map(e => ({ source: 'edge' as const, url: edgeUrlFor(e.url, job.url), edge: e.url })),
      { source: 'origin', url: job.url }
    ]
    for (const { source, url, edge } of sources) {
      signal.throwIfAborted()
      const release = await httpSlots.acquire(signal)
      try {
        const rest = await fetchRange(url, start + prefix.length, end, config.httpTimeoutMs, signal)
        const bytes = concat(prefix, rest)
        if (await this.#valid(job.manifest, index, bytes)) {
          if (edge !== undefined) edges.succeeded(edge)
          return { bytes, source, prefix: prefix.length }
        }
        if (prefix.length > 0) {
          // Either the peer's part or this one is wrong: the whole chunk from here decides.
          const whole = await fetchRange(url, start, end, config.httpTimeoutMs, signal)
          if (await this.#valid(job.manifest, index, whole)) return { bytes: whole, source, prefix: 0 }
        }
        this.deps.report(new IntegrityError(`${url} sent a bad chunk ${index}`), { url: job.url })
        if (edge !== undefined) edges.failed(edge)
      } catch (err) {
        signal.throwIfAborted()
        this.deps.report(err, { url: job.url })
        if (edge !== undefined && (!(err instanceof HttpError) || err.serverFault)) edges.failed(edge)
      } finally {
        release()
      }
    }
    throw new IntegrityError(`no source delivered a valid chunk ${index} of ${job.url}`)
  }

  /**
   * The peers we may ask: those of our region when we have any, else all. Bytes stay
   * inside a region whenever it has two or more peers (ours and another); a page alone
   * in its region still gets help from the others.
   */
  #candidates (): Peer[] {
    const region = this.deps.region()
    const live = [...this.deps.peers()].filter(p => !p.destroyed)
    const local = live.filter(p => p.region === region)
    return local.length > 0 ? local : live
  }

  /**
   * Candidates that announced the chunk: unmeasured ones first (to learn their speed),
   * then by throughput shared among the requests they already carry.
   */
  #peersWith (id: string, index: number): Peer[] {
    const score = (p: Peer): number => p.throughput === 0 ? Infinity : p.throughput / (1 + p.load)
    return this.#candidates()
      .filter(p => p.has(id, index))
      .sort((a, b) => score(b) - score(a) || a.load - b.load)
  }

  async #valid (manifest: Manifest, index: number, bytes: Uint8Array): Promise<boolean> {
    return await verifyChunk(manifest, index, bytes, sha256)
  }
}

function concat (a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
