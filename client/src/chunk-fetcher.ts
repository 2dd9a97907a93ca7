import {
  chunkBounds,
  errorMessageOf,
  IntegrityError,
  MAX_REQUESTS_IN_FLIGHT,
  TimeoutError,
  verifyChunk,
  type HttpReason,
  type Manifest,
  type Sha256
} from '../../protocol/src/index.js'
import { concatBytes } from './bytes.js'
import type { EdgeSet } from './edge-set.js'
import type { Holdings } from './holdings.js'
import { edgeUrlFor, HttpError } from './http-source.js'
import type { Limiter } from './limiter.js'
import { FETCHING_TTL_MS } from './peer/fetching-table.js'
import { receivedOf } from './peer/peer.js'
import { sha256 } from './sha256.js'
import type { ChunkStore } from './storage/chunk-store.js'
import type { Source } from './types.js'

/** One `fetch()` as the scheduler sees it. */
export interface FetchJob {
  url: string
  id: string
  manifest: Manifest
  signal: AbortSignal
  /** The fetch's first chunk: the page waits for it before anything else, so it never waits for peers. */
  first: number
  /** The chunk the page is waiting for now: a peer gets HEAD_DEADLINE_MS, not seconds, to start it. */
  head: number
  /**
   * The fetch's first bytes asked of an edge before the manifest came (`Client`'s
   * first-visitor path): used for chunk `index` when they verify, else forgotten.
   */
  early?: { index: number; bytes: Promise<Uint8Array | undefined> }
  /** A player's segment: its deadline decides between waiting for peers and HTTP now. */
  media?: MediaHints
}

/** What a player integration says about a segment it asks for (`cdn.fetch(url, { media })`). */
export interface MediaHints {
  /** The stream it belongs to, for `stats().streams`: one name per player. */
  stream: string
  /**
   * Milliseconds until the player needs these bytes (0 or less: needed now), read again
   * while the fetch waits, so a playhead that moves on makes it more urgent.
   */
  deadlineMs: () => number
}

/** What the scheduler reads of a connected peer (a `Peer`). */
export interface SourcePeer {
  readonly id: string
  readonly region: string
  readonly destroyed: boolean
  /** Bytes per millisecond of its last completed request; 0 before one. */
  readonly throughput: number
  /** Milliseconds to the first bytes of its last request that got any; 0 before one. */
  readonly firstByteMs: number
  has: (resourceId: string, index: number) => boolean
  /** It said it is fetching this chunk over HTTP now (a FETCHING frame, not expired). */
  fetching: (resourceId: string, index: number) => boolean
  heldCount: (resourceId: string) => number
  /** Rejects carrying the prefix received (`receivedOf`) when it fails or `signal` aborts. */
  request: (
    resourceId: string,
    index: number,
    size: number,
    signal: AbortSignal,
    onData: (received: number) => void
  ) => Promise<Uint8Array>
}

/** Time, injectable so that deadlines can be tested with a fake clock. */
export interface Clock {
  now: () => number
  setTimeout: (fn: () => void, ms: number) => unknown
  clearTimeout: (handle: unknown) => void
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: handle => clearTimeout(handle as ReturnType<typeof setTimeout>)
}

/** A verified chunk and who sent it; `prefix` bytes came from `peer` before it stalled. */
export interface Delivery<P extends SourcePeer = SourcePeer> {
  bytes: Uint8Array
  source: Source
  peer?: P
  /** Bytes at the start that a peer sent before another source finished the chunk. */
  prefix: number
  /** From an edge or the origin: why not from a peer (the fleet statistics' reasons). */
  reason?: HttpReason
}

export interface ChunkFetcherDeps<P extends SourcePeer = SourcePeer> {
  /** A peer that sends nothing for this long loses the request, whatever its deadline. */
  peerTimeoutMs: number
  store: Pick<ChunkStore, 'getChunk'>
  holdings: Pick<Holdings, 'has' | 'count'>
  edges: () => EdgeSet
  /** Connected peers (none without a swarm). */
  peers: () => Iterable<P>
  /** Subscribe to HAVE updates from any peer; returns the unsubscribe. */
  onPeerHave: (listener: () => void) => () => void
  /**
   * Resolves once the swarm's peers that can connect have said what they hold (bounded by
   * `peerWaitMs`), or at once without a swarm. Only chunks after a fetch's first wait for it.
   */
  awaitPeers: (job: FetchJob, index: number) => Promise<void>
  /** Bytes `[start, end)` of `url` over HTTP, with its own timeout. */
  fetchRange: (url: string, start: number, end: number, signal: AbortSignal) => Promise<Uint8Array>
  region: () => string | undefined
  peerSlots: Limiter
  httpSlots: Limiter
  /**
   * A media chunk whose deadline is this close goes to HTTP at once unless a connected
   * peer holds it; one further ahead waits for peers that hold or fetch it.
   */
  urgentWindowMs: number
  /** A media chunk's HTTP fetch started or ended: peers hear of it (FETCHING). */
  fetchingOverHttp: (job: FetchJob, index: number, state: 'started' | 'delivered' | 'failed') => void
  /** Uniform in [0, 1); a test's may be fixed. @default Math.random */
  random?: () => number
  clock?: Clock
  /** WebCrypto's by default; a test's may answer without leaving the microtask queue. */
  sha256?: Sha256
  /** The peer sent bytes that do not verify: never use it again. */
  ban: (peer: P, message: string) => void
  /** The peer missed its deadlines CHOKE_STRIKES times: never ask it again. */
  choke: (peer: P, message: string) => void
  report: (err: unknown, extra?: { peer?: string; url?: string }) => void
}

/** Peers tried for one chunk before HTTP. */
const PEER_ATTEMPTS = 2
/**
 * Missed deadlines in a row after which a peer is choked for the session. Requests that
 * were in flight together miss together (one stall of the peer): they count once. A
 * peer with a strike gets one request at a time until it delivers, which clears it.
 */
export const CHOKE_STRIKES = 2
/**
 * A peer request may take SLACK times what the peer's own last request predicts, and
 * SLACK times what HTTP would take: a peer is dropped for being much slower than it was
 * or than the alternative, not for being a little slower than a loopback edge.
 */
const SLACK = 4
/**
 * No whole-chunk deadline is shorter than this: our requests queue behind each other at
 * the peer, and a seeder writing to IndexedDB pauses (bench:swarm lost chunks of honest
 * peers at 2 s). Silent and dripping peers are caught sooner by the other rules.
 */
export const PEER_DEADLINE_MIN_MS = 4000
/**
 * A request loses when the peer sent us nothing at all (for any request) for this long,
 * or SLACK times its usual first byte or HTTP's if longer, and never beyond
 * `peerTimeoutMs`. A peer that delivered before gets FIRST_BYTE_MIN_MS: a seeder that
 * just fetched a resource is writing it to IndexedDB and can pause that long (measured
 * in bench:swarm); one that has not gets FIRST_BYTE_NEW_PEER_MS, or HEAD_DEADLINE_MS for
 * the chunk the page waits for.
 */
export const FIRST_BYTE_MIN_MS = 2500
export const FIRST_BYTE_NEW_PEER_MS = 2000
/**
 * Requests in flight to a peer that has not delivered one yet: what a peer that claims
 * everything and sends nothing can hold up, while a measured peer takes the rest.
 */
export const NEW_PEER_REQUESTS = 2
/** Below this many bytes per millisecond (32 KB/s), after FLOOR_GRACE_MS, a peer loses the request. */
export const PEER_FLOOR_BYTES_PER_MS = 32
export const FLOOR_GRACE_MS = 1000
/**
 * The chunk the page is waiting for, asked of a peer that has not delivered yet, must
 * start (first bytes, then the floor) within this, or SLACK times HTTP's first byte if
 * longer: past it, HTTP would likely have delivered already, and a peer that claims
 * everything and sends nothing has not earned seconds of the page's time. A peer that
 * has delivered gets its usual deadlines even there: a busy honest peer (one writing
 * what it just fetched to IndexedDB) can take a second to start. A miss is a strike.
 */
export const HEAD_DEADLINE_MS = 300
/** How often an in-flight peer request is checked against its deadlines. */
const CHECK_MS = 100
/**
 * A media chunk nobody holds or fetches waits a random moment up to this (or its slack)
 * before going to HTTP: pages that want a new live segment at the same time then mostly
 * see one another's FETCHING, and one copy leaves the edge instead of one per page.
 */
export const MEDIA_JITTER_MS = 500

/**
 * Finds each chunk a verified copy: own storage → peers that announced it (same region,
 * faster, less busy, never-failed first) → nearest usable edge → next edge → origin.
 *
 * Peers earn their requests: each has deadlines (first bytes, a throughput floor, a
 * whole-chunk deadline from the peer's measured speed and the HTTP alternative); a peer
 * that misses one loses the request, its bytes are kept and HTTP Range continues from
 * there; a peer that misses CHOKE_STRIKES is choked. The fetch's first chunk never waits
 * for peers that are not connected: a page is never slower than its plain fetch by that.
 */
export class ChunkFetcher<P extends SourcePeer = SourcePeer> {
  /** Fetches whose leader went quiet once: they stop waiting for it. */
  readonly #leaderless = new WeakSet<FetchJob>()
  readonly #waits = new WeakMap<FetchJob, Promise<void>>()
  // Per connection, so that they go with it: peer ids come and go for the whole session,
  // and a choked id never comes back (the swarm bans it).
  /**
   * Missed deadlines in a row per peer, and the last request number asked when the
   * last was missed: requests up to it were in flight with that miss.
   */
  readonly #strikes = new WeakMap<P, { count: number; upTo: number }>()
  /** What each peer sent us, across requests (see `#watch`). */
  readonly #flows = new WeakMap<P, { lastData: number; bytes: number }>()
  /** Requests chosen for each peer and not settled. */
  readonly #load = new WeakMap<P, number>()
  /** Peer requests asked so far: each one's number orders it against strikes. */
  #asked = 0
  /**
   * Fetches waiting for a leader re-check whenever a peer request ends: the leader may
   * have room now, or have just missed a deadline.
   */
  readonly #waiting = new Set<() => void>()
  /** HTTP bytes per millisecond, smoothed; 0 before the first chunk. */
  #httpThroughput = 0
  /** Milliseconds to a whole small HTTP response, smoothed: an upper bound of its first byte. */
  #httpLatencyMs = 0
  readonly #clock: Clock

  constructor(readonly deps: ChunkFetcherDeps<P>) {
    this.#clock = deps.clock ?? realClock
  }

  async fetch(job: FetchJob, index: number): Promise<Delivery<P>> {
    const { holdings, store } = this.deps
    if (holdings.has(job.id, index)) {
      const bytes = await store.getChunk(job.id, index).catch((err: unknown) => {
        // Storage failing is no reason to fail the fetch: the network has the chunk too.
        this.deps.report(err, { url: job.url })
        return undefined
      })
      if (bytes !== undefined && (await this.#valid(job.manifest, index, bytes)))
        return { bytes, source: 'cache', prefix: 0 }
    }
    if (job.early?.index === index) {
      const { end, start } = chunkBounds(job.manifest, index)
      const bytes = (await job.early.bytes)?.subarray(0, end - start)
      // Asked only while no peer was connected.
      if (bytes !== undefined && (await this.#valid(job.manifest, index, bytes)))
        return { bytes, source: 'edge', prefix: 0, reason: 'no-peer' }
    }
    let prefix: Uint8Array = new Uint8Array(0)
    let stalled: P | undefined
    const tried = new Set<P>()
    // What sends the chunk to HTTP: nobody to ask, or what went wrong with the last peer asked.
    let reason: HttpReason = 'no-peer'
    for (let attempt = 0; attempt < PEER_ATTEMPTS; attempt++) {
      job.signal.throwIfAborted()
      let peer = this.#pick(job.id, index, tried)
      if (peer === undefined && job.media !== undefined) {
        peer = await this.#awaitMedia(job, job.media, index, tried)
        if (peer === undefined && tried.size === 0 && job.media.deadlineMs() <= this.deps.urgentWindowMs)
          reason = 'deadline'
      } else if (peer === undefined && index !== job.first) {
        await this.#awaitPeers(job, index)
        // Woken with others when a request ends: whoever picks first takes the room.
        while ((peer = this.#pick(job.id, index, tried)) === undefined && (await this.#awaitLeader(job, index, tried)))
          job.signal.throwIfAborted()
      }
      if (peer === undefined) break
      tried.add(peer)
      try {
        const got = await this.#fromPeer(job, index, peer)
        if (typeof got !== 'string') return got
        reason = got
      } catch (err) {
        job.signal.throwIfAborted()
        this.deps.report(err, { peer: peer.id, url: job.url })
        reason = (err as { code?: unknown }).code === 'ERR_TIMEOUT' ? 'peer-slow' : 'peer-error'
        const received = receivedOf(err)
        if (received.length > 0) {
          // Another peer cannot start mid-chunk, HTTP Range can: keep these bytes.
          prefix = received
          stalled = peer
          break
        }
      }
    }
    const got = await this.#fromHttpTold(job, index, prefix)
    if (got.prefix === 0 && prefix.length > 0 && stalled !== undefined) {
      this.deps.ban(stalled, `peer sent bad bytes of chunk ${index} of ${job.url}`)
      reason = 'peer-integrity'
    }
    return got.prefix > 0 ? { ...got, peer: stalled, reason } : { ...got, reason }
  }

  /** Deadlines the peer missed in a row (0 for one that never missed or delivered since). */
  strikes(peer: P): number {
    return this.#strikes.get(peer)?.count ?? 0
  }

  /** One wait per fetch: its later chunks share it. */
  async #awaitPeers(job: FetchJob, index: number): Promise<void> {
    let wait = this.#waits.get(job)
    if (wait === undefined) this.#waits.set(job, (wait = this.deps.awaitPeers(job, index)))
    await wait
  }

  /**
   * A connected peer that holds more of this resource than we do is fetching it too:
   * waiting for its HAVE costs less than a second copy from the edge, and it is what
   * keeps a busy edge at about one copy per swarm. Bounded by `peerTimeoutMs`; a fetch
   * whose leader went quiet once does not wait again; only a peer with no strike, not
   * tried for this chunk already, leads.
   * The same wait covers a leader with no room for another request yet. Resolves true
   * when there may be a peer to ask now, false when there is no one worth waiting for.
   */
  async #awaitLeader(job: FetchJob, index: number, tried: Set<P>): Promise<boolean> {
    if (this.#leaderless.has(job)) return false
    const ours = this.deps.holdings.count(job.id)
    const ahead = (): boolean =>
      this.#candidates().some(p => !tried.has(p) && this.strikes(p) === 0 && p.heldCount(job.id) > ours)
    if (!ahead()) return false
    // The same `tried` as the caller's pick: a peer it may not ask again is no reason to wake.
    const woke = await this.#until(
      job,
      this.deps.peerTimeoutMs,
      () => this.#pick(job.id, index, tried) !== undefined || !ahead()
    )
    if (!woke && !job.signal.aborted) this.#leaderless.add(job)
    return woke
  }

  /**
   * A media chunk no connected peer can give us now. Within its slack (deadline minus
   * `urgentWindowMs`) it waits: for peers still connecting and sending their HAVEs, for
   * a peer that said it is fetching the chunk (its HAVE follows), and, when nobody holds
   * or fetches it, a random moment up to MEDIA_JITTER_MS, so that pages wanting it at once
   * do not all go to the edge. Returns the peer to ask, or undefined for HTTP now.
   */
  async #awaitMedia(job: FetchJob, media: MediaHints, index: number, tried: Set<P>): Promise<P | undefined> {
    const pick = (): P | undefined => this.#pick(job.id, index, tried)
    const slackMs = (): number => media.deadlineMs() - this.deps.urgentWindowMs
    const fetchedByPeer = (): boolean =>
      this.#candidates().some(p => !tried.has(p) && this.strikes(p) === 0 && p.fetching(job.id, index))
    if (slackMs() <= 0) return undefined
    let heard = false
    void this.#awaitPeers(job, index).then(() => {
      heard = true
      this.#wakeWaiting()
    })
    await this.#until(job, slackMs(), () => heard || pick() !== undefined)
    let jittered = false
    for (;;) {
      job.signal.throwIfAborted()
      const peer = pick()
      const slack = slackMs()
      if (peer !== undefined || slack <= 0) return peer
      if (fetchedByPeer()) {
        await this.#until(job, Math.min(slack, FETCHING_TTL_MS), () => pick() !== undefined || !fetchedByPeer())
      } else if (!jittered) {
        jittered = true
        const ms = (this.deps.random ?? Math.random)() * Math.min(MEDIA_JITTER_MS, slack)
        await this.#until(job, ms, () => pick() !== undefined || fetchedByPeer())
      } else return undefined
    }
  }

  /**
   * Resolves true once `ready()` holds (checked now, on every HAVE or FETCHING from a
   * peer and whenever a peer request ends), false when `ms` pass or the fetch aborts.
   */
  async #until(job: FetchJob, ms: number, ready: () => boolean): Promise<boolean> {
    const clock = this.#clock
    return await new Promise<boolean>(resolve => {
      const check = (): void => {
        if (ready()) done(true)
      }
      const done = (ok: boolean): void => {
        clock.clearTimeout(timer)
        off()
        this.#waiting.delete(check)
        job.signal.removeEventListener('abort', onAbort)
        resolve(ok)
      }
      const onAbort = (): void => done(false)
      const timer = clock.setTimeout(() => done(false), ms)
      const off = this.deps.onPeerHave(check)
      this.#waiting.add(check)
      job.signal.addEventListener('abort', onAbort, { once: true })
      check()
    })
  }

  #wakeWaiting(): void {
    for (const check of [...this.#waiting]) check()
  }

  /**
   * Verified bytes from `peer`; else why not: it lied (it is banned then), or was choked
   * or gone meanwhile. Called right after `#pick`, with no await between: the request
   * counts against the peer's room from the moment it was chosen.
   */
  async #fromPeer(job: FetchJob, index: number, peer: P): Promise<Delivery<P> | HttpReason> {
    const { start, end } = chunkBounds(job.manifest, index)
    this.#load.set(peer, this.#loadOf(peer) + 1)
    let release = (): void => {}
    try {
      release = await this.deps.peerSlots.acquire(job.signal)
      // The wait for a slot may have outlasted the peer's standing.
      if (peer.destroyed) return 'peer-error'
      if (this.strikes(peer) >= CHOKE_STRIKES) return 'peer-slow'
      return await this.#askPeer(job, index, peer, end - start)
    } finally {
      this.#load.set(peer, this.#loadOf(peer) - 1)
      release()
      this.#wakeWaiting()
    }
  }

  async #askPeer(job: FetchJob, index: number, peer: P, size: number): Promise<Delivery<P> | HttpReason> {
    const ask = new AbortController()
    const stop = (): void => ask.abort(job.signal.reason)
    job.signal.addEventListener('abort', stop, { once: true })
    const watch = this.#watch(job, index, peer, size, ask)
    const asked = ++this.#asked
    try {
      const bytes = await peer.request(job.id, index, size, ask.signal, watch.onData).catch((err: unknown) => {
        // Counted before the slot is released: the next request must see the strike.
        if ((err as { code?: unknown }).code === 'ERR_TIMEOUT') this.#strike(peer, asked, err)
        throw err
      })
      this.#strikes.delete(peer)
      if (await this.#valid(job.manifest, index, bytes)) return { bytes, source: 'peer', peer, prefix: 0 }
      this.deps.ban(peer, `peer sent a bad chunk ${index} of ${job.url}`)
      return 'peer-integrity'
    } finally {
      watch.stop()
      job.signal.removeEventListener('abort', stop)
    }
  }

  /**
   * The deadlines of one peer request of `size` bytes; `ask` is aborted with a
   * TimeoutError (code ERR_TIMEOUT) when one is missed.
   */
  #watch(
    job: FetchJob,
    index: number,
    peer: P,
    size: number,
    ask: AbortController
  ): { onData: (received: number) => void; stop: () => void } {
    const clock = this.#clock
    const { peerTimeoutMs } = this.deps
    const started = clock.now()
    // Our requests to one peer share its channel: whether it is silent or slow is judged
    // by all it sends us, not by this request alone (which may wait behind the others).
    const flow = this.#flowOf(peer)
    const flowedBefore = flow.bytes
    let received = 0
    let lastData = started
    const unproven = peer.throughput === 0
    const usual = Math.max(SLACK * peer.firstByteMs, SLACK * this.#httpLatencyMs)
    const firstByteMs = Math.min(peerTimeoutMs, Math.max(unproven ? FIRST_BYTE_NEW_PEER_MS : FIRST_BYTE_MIN_MS, usual))
    const peerMs = peer.throughput === 0 ? 0 : size / peer.throughput
    const httpMs = this.#httpThroughput === 0 ? 0 : size / this.#httpThroughput
    // The peer's last request shared the channel too; this one shares it with `load` of ours.
    const totalMs = Math.max(PEER_DEADLINE_MIN_MS, SLACK * peerMs * this.#loadOf(peer), SLACK * httpMs)
    let timer: unknown
    const check = (): void => {
      const now = clock.now()
      const elapsed = now - started
      const head = unproven && job.head === index
      const quiet = now - Math.max(started, flow.lastData)
      const rate = (flow.bytes - flowedBefore) / elapsed
      const graceMs = head ? HEAD_DEADLINE_MS : FLOOR_GRACE_MS
      let missed: string | undefined
      if (received === 0 && quiet >= (head ? Math.max(HEAD_DEADLINE_MS, SLACK * this.#httpLatencyMs) : firstByteMs))
        missed = `peer sent nothing in ${Math.round(quiet)} ms`
      else if (received === 0 && elapsed >= peerTimeoutMs)
        missed = `peer did not start the chunk in ${peerTimeoutMs} ms`
      else if (received > 0 && now - lastData >= peerTimeoutMs)
        missed = `peer sent nothing of the chunk for ${peerTimeoutMs} ms`
      else if (elapsed >= graceMs && flow.bytes > flowedBefore && rate < PEER_FLOOR_BYTES_PER_MS)
        missed = `peer sent us ${flow.bytes - flowedBefore} B in ${Math.round(elapsed)} ms, below the floor of ${PEER_FLOOR_BYTES_PER_MS * 1000} B/s`
      else if (elapsed >= totalMs) missed = `peer took over ${Math.round(totalMs)} ms for ${size} B`
      if (missed !== undefined) ask.abort(new TimeoutError(missed))
      else timer = clock.setTimeout(check, CHECK_MS)
    }
    timer = clock.setTimeout(check, CHECK_MS)
    return {
      onData: n => {
        lastData = clock.now()
        flow.lastData = lastData
        flow.bytes += n - received
        received = n
      },
      stop: () => clock.clearTimeout(timer)
    }
  }

  /** What a peer sent us over all our requests: when it last sent anything, and how much in all. */
  #flowOf(peer: P): { lastData: number; bytes: number } {
    let flow = this.#flows.get(peer)
    if (flow === undefined) this.#flows.set(peer, (flow = { lastData: -Infinity, bytes: 0 }))
    return flow
  }

  /** A missed deadline of request number `asked`; one in flight with the last miss does not count again. */
  #strike(peer: P, asked: number, err: unknown): void {
    const last = this.#strikes.get(peer)
    if (last !== undefined && asked <= last.upTo) return
    const count = (last?.count ?? 0) + 1
    this.#strikes.set(peer, { count, upTo: this.#asked })
    if (count === CHOKE_STRIKES)
      this.deps.choke(peer, `peer missed ${count} deadlines in a row, the last: ${errorMessageOf(err)}`)
  }

  /** `#fromHttp`, and for a media chunk peers hear that it is on its way (FETCHING) until it is in or failed. */
  async #fromHttpTold(job: FetchJob, index: number, prefix: Uint8Array): Promise<Delivery<P>> {
    if (job.media === undefined) return await this.#fromHttp(job, index, prefix, job.signal)
    this.deps.fetchingOverHttp(job, index, 'started')
    let got = false
    try {
      const delivery = await this.#fromHttp(job, index, prefix, job.signal)
      got = true
      return delivery
    } finally {
      this.deps.fetchingOverHttp(job, index, got ? 'delivered' : 'failed')
    }
  }

  /**
   * The chunk over HTTP, continuing after `prefix`: nearest usable edge, next edge, origin.
   * With none left, rejects with IntegrityError (ERR_INTEGRITY) when every source sent
   * bytes that do not verify, else with HttpError (ERR_HTTP) naming what each did.
   */
  async #fromHttp(job: FetchJob, index: number, prefix: Uint8Array, signal: AbortSignal): Promise<Delivery<P>> {
    const { httpSlots, fetchRange } = this.deps
    const edges = this.deps.edges()
    const { start, end } = chunkBounds(job.manifest, index)
    const sources: Array<{ source: Source; url: string; edge?: string }> = [
      ...edges.usable().map(e => ({ source: 'edge' as const, url: edgeUrlFor(e.url, job.url), edge: e.url })),
      { source: 'origin', url: job.url }
    ]
    /** What went wrong at each source, in order; `bad` counts those that sent bytes that did not verify. */
    const failures: string[] = []
    let bad = 0
    for (const { source, url, edge } of sources) {
      signal.throwIfAborted()
      const release = await httpSlots.acquire(signal)
      try {
        const asked = this.#clock.now()
        const rest = await fetchRange(url, start + prefix.length, end, signal)
        this.#measureHttp(rest.length, this.#clock.now() - asked)
        const bytes = concat(prefix, rest)
        if (await this.#valid(job.manifest, index, bytes)) {
          if (edge !== undefined) edges.succeeded(edge)
          return { bytes, source, prefix: prefix.length }
        }
        if (prefix.length > 0) {
          // Either the peer's part or this one is wrong: the whole chunk from here decides.
          const whole = await fetchRange(url, start, end, signal)
          if (await this.#valid(job.manifest, index, whole)) return { bytes: whole, source, prefix: 0 }
        }
        const wrong = new IntegrityError(`${url} sent a bad chunk ${index}`)
        this.deps.report(wrong, { url: job.url })
        failures.push(wrong.message)
        bad++
        if (edge !== undefined) edges.failed(edge)
      } catch (err) {
        signal.throwIfAborted()
        this.deps.report(err, { url: job.url })
        failures.push(errorMessageOf(err))
        if (edge !== undefined && (!(err instanceof HttpError) || err.serverFault)) edges.failed(edge)
      } finally {
        release()
      }
    }
    const what = `no source delivered chunk ${index} of ${job.url}: ${failures.join('; ')}`
    // Bad bytes from every source: the manifest and the content disagree. Otherwise some
    // source could not be had at all, and that is what the page must hear about.
    if (bad === sources.length) throw new IntegrityError(what)
    throw new HttpError(what, true)
  }

  /** Smoothed, so one slow or one tiny response does not swing every peer deadline. */
  #measureHttp(bytes: number, ms: number): void {
    const smooth = (old: number, sample: number): number => (old === 0 ? sample : 0.7 * old + 0.3 * sample)
    // A small response is mostly latency, a big one mostly throughput.
    if (bytes < 16 * 1024) this.#httpLatencyMs = smooth(this.#httpLatencyMs, ms)
    else this.#httpThroughput = smooth(this.#httpThroughput, bytes / Math.max(1, ms))
  }

  /**
   * The peers we may ask: those of our region when we have any, else all. Bytes stay
   * inside a region whenever it has two or more peers (ours and another); a page alone
   * in its region still gets help from the others.
   */
  #candidates(): P[] {
    const region = this.deps.region()
    const live = [...this.deps.peers()].filter(p => !p.destroyed && this.strikes(p) < CHOKE_STRIKES)
    const local = live.filter(p => p.region === region)
    return local.length > 0 ? local : live
  }

  /**
   * The best candidate not tried yet that announced the chunk and has room for a
   * request: peers that did not just miss a deadline first; among those, unmeasured ones
   * first (to learn their speed), then by throughput shared among the requests they
   * already carry.
   */
  #pick(id: string, index: number, tried: Set<P>): P | undefined {
    const score = (p: P): number => (p.throughput === 0 ? Infinity : p.throughput / (1 + this.#loadOf(p)))
    return this.#candidates()
      .filter(p => !tried.has(p) && p.has(id, index) && this.#mayAsk(p))
      .sort((a, b) => this.strikes(a) - this.strikes(b) || score(b) - score(a) || this.#loadOf(a) - this.#loadOf(b))[0]
  }

  /** Our requests to `peer` from the moment each was chosen (a Peer counts them only once sent). */
  #loadOf(peer: P): number {
    return this.#load.get(peer) ?? 0
  }

  /**
   * Not gone, not choked, and room for one more request: one at a time while on a
   * strike, NEW_PEER_REQUESTS before its first delivery.
   */
  #mayAsk(peer: P): boolean {
    const strikes = this.strikes(peer)
    const room = strikes > 0 ? 1 : peer.throughput === 0 ? NEW_PEER_REQUESTS : MAX_REQUESTS_IN_FLIGHT
    return !peer.destroyed && strikes < CHOKE_STRIKES && this.#loadOf(peer) < room
  }

  async #valid(manifest: Manifest, index: number, bytes: Uint8Array): Promise<boolean> {
    return await verifyChunk(manifest, index, bytes, this.deps.sha256 ?? sha256)
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.length === 0 ? b : concatBytes([a, b])
}
