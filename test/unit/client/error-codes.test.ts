/**
 * Error codes as the README's catalogue gives them, module by module: what the page's
 * `error` event and a failed fetch carry when HTTP sources, storage, deadlines or the
 * tracker fail. The Chromium side is test/e2e/error-codes.test.ts.
 */
import 'fake-indexeddb/auto'
import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket as WsWebSocket, WebSocketServer } from 'ws'
import {
  buildManifest,
  CdnError,
  errorCodeOf,
  errorMessageOf,
  resourceId,
  type FailureResponse,
  type Manifest
} from '../../../protocol/src/index.js'
import { ChunkFetcher, type FetchJob, type SourcePeer } from '../../../client/src/chunk-fetcher.js'
import { EdgeSet } from '../../../client/src/edge-set.js'
import { Emitter } from '../../../client/src/events.js'
import { fetchManifestAt, fetchRange, HttpError } from '../../../client/src/http-source.js'
import { Limiter } from '../../../client/src/limiter.js'
import { Swarm } from '../../../client/src/peer/swarm.js'
import { createIdbStore } from '../../../client/src/storage/idb-store.js'
import { TrackerClient, type TrackerClientEvents } from '../../../client/src/tracker-client.js'

const sha256 = (bytes: Uint8Array): Promise<Uint8Array> => Promise.resolve(createHash('sha256').update(bytes).digest())
const CHUNK = 1024
const EDGES = ['https://e1.test', 'https://e2.test']
const URL_ = 'https://origin.test/file.bin'

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
  vi.unstubAllGlobals()
})

describe('errorCodeOf: a code for anything thrown', () => {
  it('keeps catalogue codes, codes aborts and timeouts by name, and calls everything else ERR_INTERNAL (not ERR_HTTP)', () => {
    expect(errorCodeOf(new HttpError('x answered 503', true))).toBe('ERR_HTTP')
    expect(errorCodeOf(new CdnError('ERR_SIGNATURE', 'x'))).toBe('ERR_SIGNATURE')
    expect(errorCodeOf({ code: 'ERR_STORAGE', message: 'from another copy of the SDK' })).toBe('ERR_STORAGE')
    expect(errorCodeOf(new DOMException('stop', 'AbortError'))).toBe('ERR_ABORTED')
    expect(errorCodeOf(new DOMException('late', 'TimeoutError'))).toBe('ERR_TIMEOUT')
    // IndexedDB's own exceptions have a numeric legacy `code`: not one of ours.
    expect(errorCodeOf(new DOMException('full', 'QuotaExceededError'))).toBe('ERR_INTERNAL')
    expect(errorCodeOf(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('ERR_INTERNAL')
    expect(errorCodeOf(new TypeError('undefined is not a function'))).toBe('ERR_INTERNAL')
    expect(errorCodeOf('a string')).toBe('ERR_INTERNAL')
    expect(errorCodeOf(undefined)).toBe('ERR_INTERNAL')
    expect(errorMessageOf(new TypeError('undefined is not a function'))).toBe('undefined is not a function')
    expect(errorMessageOf('a string')).toBe('a string')
  })
})

type Answer = 'ok' | 'bad' | 503 | 'down'

/** A ChunkFetcher with two edges and an origin answering as `answers` says (by URL prefix), no peers. */
async function httpOnly(
  answers: Record<string, Answer>,
  getChunk: (id: string, index: number) => Promise<Uint8Array | undefined> = () => Promise.resolve(undefined)
): Promise<{
  fetcher: ChunkFetcher
  job: FetchJob
  reports: Array<{ code: string; message: string; url?: string }>
  body: Uint8Array
}> {
  const body = new Uint8Array(2 * CHUNK).map((_, i) => i % 251)
  const manifest: Manifest = await buildManifest({ url: URL_, chunkSize: CHUNK }, body, sha256)
  const reports: Array<{ code: string; message: string; url?: string }> = []
  const edges = new EdgeSet(
    EDGES.map(url => ({ url, region: 'eu', rttMs: 1 })),
    30_000
  )
  const fetcher = new ChunkFetcher({
    peerTimeoutMs: 4000,
    store: { getChunk },
    holdings: { has: () => true, count: () => 0 },
    edges: () => edges,
    peers: () => [] as SourcePeer[],
    onPeerHave: () => () => {},
    awaitPeers: async () => {},
    fetchRange: async (url, start, end) => {
      await Promise.resolve() // answers come later, as the network's do
      const answer = Object.entries(answers).find(([prefix]) => url.startsWith(prefix))?.[1] ?? 'down'
      if (answer === 'down') throw new HttpError(`${url}: Failed to fetch`, true)
      if (typeof answer === 'number') throw new HttpError(`${url} bytes ${start}-${end - 1} answered ${answer}`, true)
      const bytes = body.slice(start, end)
      if (answer === 'bad') bytes[0] = (bytes[0]! + 1) % 256
      return bytes
    },
    region: () => 'eu',
    peerSlots: new Limiter(6),
    urgentWindowMs: 3000,
    fetchingOverHttp: () => {},
    httpSlots: new Limiter(4),
    sha256,
    ban: () => {},
    choke: () => {},
    report: (err, extra) => reports.push({ code: errorCodeOf(err), message: errorMessageOf(err), ...extra })
  })
  const job: FetchJob = {
    url: URL_,
    id: await resourceId(manifest, sha256),
    manifest,
    signal: new AbortController().signal,
    first: 0,
    head: 0
  }
  return { fetcher, job, reports, body }
}

describe('ChunkFetcher: what a chunk no source delivers rejects with', () => {
  it('every edge and the origin unreachable or failing: ERR_HTTP naming each, not ERR_INTEGRITY', async () => {
    const s = await httpOnly({ [EDGES[0]!]: 'down', [EDGES[1]!]: 503, 'https://origin.test': 503 })
    const err = await s.fetcher.fetch(s.job, 1).catch((e: unknown) => e)
    expect(errorCodeOf(err)).toBe('ERR_HTTP')
    expect(errorMessageOf(err)).toContain('chunk 1 of https://origin.test/file.bin')
    expect(errorMessageOf(err)).toContain('e1.test/file.bin: Failed to fetch')
    expect(errorMessageOf(err)).toContain('e2.test/file.bin bytes 1024-2047 answered 503')
    expect(errorMessageOf(err)).toContain('https://origin.test/file.bin bytes 1024-2047 answered 503')
    expect(s.reports.map(r => r.code)).toEqual(['ERR_HTTP', 'ERR_HTTP', 'ERR_HTTP'])
  })

  it('bad bytes from some, the rest failing: ERR_HTTP, each source reported with its own code', async () => {
    const s = await httpOnly({ [EDGES[0]!]: 'bad', [EDGES[1]!]: 'down', 'https://origin.test': 503 })
    const err = await s.fetcher.fetch(s.job, 0).catch((e: unknown) => e)
    expect(errorCodeOf(err)).toBe('ERR_HTTP')
    expect(s.reports.map(r => r.code)).toEqual(['ERR_INTEGRITY', 'ERR_HTTP', 'ERR_HTTP'])
  })

  it('bad bytes from every source: ERR_INTEGRITY', async () => {
    const s = await httpOnly({ [EDGES[0]!]: 'bad', [EDGES[1]!]: 'bad', 'https://origin.test': 'bad' })
    const err = await s.fetcher.fetch(s.job, 0).catch((e: unknown) => e)
    expect(errorCodeOf(err)).toBe('ERR_INTEGRITY')
    expect(s.reports.map(r => r.code)).toEqual(['ERR_INTEGRITY', 'ERR_INTEGRITY', 'ERR_INTEGRITY'])
  })

  it('a chunk store that fails to read is reported as ERR_STORAGE and the chunk comes over HTTP', async () => {
    const store = await createIdbStore(`codes-${Math.random()}`)
    vi.spyOn(IDBObjectStore.prototype, 'get').mockImplementation(() => {
      throw new DOMException('the database connection is closing', 'InvalidStateError')
    })
    const s = await httpOnly({ [EDGES[0]!]: 'ok' }, store.getChunk)
    const got = await s.fetcher.fetch(s.job, 0)
    expect(got.source).toBe('edge')
    expect(s.reports).toEqual([
      {
        code: 'ERR_STORAGE',
        message: expect.stringContaining('InvalidStateError: the database connection is closing'),
        url: URL_
      }
    ])
  })
})

describe('IndexedDB store: every failure is ERR_STORAGE', () => {
  it('a write IndexedDB refuses (here: a value it cannot clone) rejects with ERR_STORAGE naming what was written', async () => {
    const store = await createIdbStore(`codes-${Math.random()}`)
    const err = await store.putChunk('r', 3, (() => {}) as unknown as Uint8Array).catch((e: unknown) => e)
    expect(errorCodeOf(err)).toBe('ERR_STORAGE')
    expect(errorMessageOf(err)).toContain('write chunk 3 of r')
    expect(errorMessageOf(err)).toContain('DataCloneError')
  })
})

describe('HTTP source: a deadline is ERR_TIMEOUT, a status or network failure ERR_HTTP', () => {
  /** A fetch that never answers: it rejects only when its signal aborts, as the browser's does. */
  const hanging = async (_url: unknown, init?: RequestInit): Promise<Response> =>
    await new Promise((_resolve, reject) => {
      init?.signal?.addEventListener('abort', () => reject(init.signal?.reason as Error))
    })

  it('no answer within the timeout: TimeoutError (ERR_TIMEOUT) for ranges and manifests', async () => {
    vi.stubGlobal('fetch', vi.fn(hanging))
    const range = await fetchRange('https://e1.test/a', 0, 10, 50).catch((e: unknown) => e)
    expect(errorCodeOf(range)).toBe('ERR_TIMEOUT')
    expect((range as Error).name).toBe('TimeoutError')
    expect(errorMessageOf(range)).toContain('no complete answer in 50 ms')
    const manifest = await fetchManifestAt('https://e1.test/_p2pcdn/manifest?url=x', 50).catch((e: unknown) => e)
    expect(errorCodeOf(manifest)).toBe('ERR_TIMEOUT')
  })

  it('the caller aborting keeps the caller reason; a status or an unreachable server is ERR_HTTP with the URL', async () => {
    vi.stubGlobal('fetch', vi.fn(hanging))
    const abort = new AbortController()
    const asked = fetchRange('https://e1.test/a', 0, 10, 5000, abort.signal).catch((e: unknown) => e)
    abort.abort(new CdnError('ERR_ABORTED', 'page went away'))
    expect(errorCodeOf(await asked)).toBe('ERR_ABORTED')

    vi.stubGlobal(
      'fetch',
      vi.fn(() => Promise.resolve(new Response('busy', { status: 503 })))
    )
    const status = await fetchRange('https://e1.test/a', 0, 10, 5000).catch((e: unknown) => e)
    expect(errorCodeOf(status)).toBe('ERR_HTTP')
    expect(errorMessageOf(status)).toBe('https://e1.test/a bytes 0-9 answered 503')

    vi.stubGlobal(
      'fetch',
      vi.fn(() => Promise.reject(new TypeError('Failed to fetch')))
    )
    const down = await fetchRange('https://e1.test/a', 0, 10, 5000).catch((e: unknown) => e)
    expect(errorCodeOf(down)).toBe('ERR_HTTP')
    expect(errorMessageOf(down)).toBe('https://e1.test/a: Failed to fetch')
  })
})

/** The part of TrackerClient a Swarm uses, with every announce it sent. */
class FakeTracker extends Emitter<TrackerClientEvents> {
  readonly connected = true
  readonly sent: Array<Record<string, unknown>> = []
  send(message: object): boolean {
    this.sent.push(message as Record<string, unknown>)
    return true
  }
}

describe('Swarm: a refused announce', () => {
  const INFO_HASH = 'i'.repeat(20)
  const refusal = (infoHash = INFO_HASH): FailureResponse => ({
    'failure reason': 'swarm is full; try again later',
    action: 'announce',
    info_hash: infoHash,
    code: 'ERR_PROTOCOL',
    reason: 'swarm-full'
  })

  function join(tracker: FakeTracker): Swarm {
    return new Swarm({
      tracker: tracker as unknown as TrackerClient,
      infoHash: INFO_HASH,
      peerId: 'p'.repeat(20),
      region: () => 'eu',
      maxPeers: 8,
      iceServers: [],
      provide: () => Promise.resolve(undefined),
      throttle: async () => {},
      peerUploadBytesPerSecond: 0,
      chunksOf: () => undefined,
      holdings: () => []
    })
  }

  it('is an answer (nobody to wait for) and is asked again after the interval, doubling, never at once', async () => {
    vi.useFakeTimers()
    const tracker = new FakeTracker()
    const swarm = join(tracker)
    expect(tracker.sent.map(m => m.event)).toEqual(['started'])
    expect(swarm.announced).toBe(false)

    tracker.emit('failure', refusal())
    expect(swarm.announced).toBe(true) // peer-wait.ts: fetches stop waiting for peers
    expect(swarm.others).toBe(0)
    await vi.advanceTimersByTimeAsync(119_000)
    expect(tracker.sent).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1000)
    // Not a member yet: it asks to join again.
    expect(tracker.sent.map(m => m.event)).toEqual(['started', 'started'])

    tracker.emit('failure', refusal())
    await vi.advanceTimersByTimeAsync(239_000)
    expect(tracker.sent).toHaveLength(2)
    await vi.advanceTimersByTimeAsync(1000)
    expect(tracker.sent).toHaveLength(3)

    // Another swarm's refusal is not ours.
    tracker.emit('failure', refusal('o'.repeat(20)))
    await vi.advanceTimersByTimeAsync(600_000)
    expect(tracker.sent).toHaveLength(3)
    swarm.destroy()
  })
})

describe('TrackerClient: refusals are failure events', () => {
  const servers: WebSocketServer[] = []
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise(resolve => s.close(resolve))
  })

  async function serve(onConnection: (ws: WsWebSocket) => void): Promise<string> {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    servers.push(wss)
    await new Promise(resolve => wss.once('listening', resolve))
    wss.on('connection', onConnection)
    const address = wss.address()
    return `ws://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  }

  it('a socket closed with 1008 is a failure with its reason, and the redial backs off (not reset by the open)', async () => {
    vi.stubGlobal('WebSocket', WsWebSocket)
    vi.spyOn(Math, 'random').mockReturnValue(0.999)
    const delays: number[] = []
    const realSetTimeout = globalThis.setTimeout
    vi.spyOn(globalThis, 'setTimeout').mockImplementation((fn: () => void, ms?: number) => {
      // TrackerClient's redials (backoffDelayMs: half the ceiling plus up to half again),
      // not its fixed 3 s / 30 s timers.
      if (ms !== undefined && ms >= 500 && ms < 61_000 && ms !== 3000 && ms !== 30_000) delays.push(Math.round(ms))
      return realSetTimeout(fn, ms)
    })
    let connections = 0
    const url = await serve(ws => {
      connections++
      ws.close(1008, 'too many connections from this address')
    })
    const client = new TrackerClient(url)
    const failures: FailureResponse[] = []
    client.on('failure', f => failures.push(f))
    try {
      await vi.waitFor(() => expect(connections).toBe(2), { timeout: 5000 })
      await vi.waitFor(() => expect(delays).toHaveLength(2), { timeout: 2000 })
    } finally {
      client.destroy()
    }
    expect(failures[0]).toEqual({ 'failure reason': 'too many connections from this address' })
    // 500 + 0.999 x 500, then 1000 + 0.999 x 1000: the second redial waits longer.
    expect(delays).toEqual([1000, 1999])
  })

  it('a refused edge list resolves [] at once, not after the edges timeout', async () => {
    vi.stubGlobal('WebSocket', WsWebSocket)
    const url = await serve(ws => {
      ws.on('message', () =>
        ws.send(JSON.stringify({ 'failure reason': 'edge list unavailable', action: 'p2pcdn:edges' }))
      )
    })
    const client = new TrackerClient(url)
    try {
      const started = performance.now()
      expect(await client.edges()).toEqual([])
      expect(performance.now() - started).toBeLessThan(1500)
    } finally {
      client.destroy()
    }
  })
})
