/**
 * The scheduler (client/src/chunk-fetcher.ts) with fake peers, a fake HTTP source and a
 * fake clock: which source each chunk comes from, and what a slow or silent peer costs.
 * The Chromium tests in test/adversarial/client/ prove the same against real peers.
 */
import { describe, expect, it } from 'vitest'
import { buildManifest, chunkBounds, resourceId, type Manifest } from '../../../protocol/src/index.js'
import {
  CHOKE_STRIKES,
  ChunkFetcher,
  FIRST_BYTE_MIN_MS,
  FIRST_BYTE_NEW_PEER_MS,
  FLOOR_GRACE_MS,
  HEAD_DEADLINE_MS,
  MEDIA_JITTER_MS,
  NEW_PEER_REQUESTS,
  PEER_DEADLINE_MIN_MS,
  type FetchJob,
  type SourcePeer
} from '../../../client/src/chunk-fetcher.js'
import { EdgeSet } from '../../../client/src/edge-set.js'
import { Limiter } from '../../../client/src/limiter.js'
import { PeerRequestError } from '../../../client/src/peer/peer.js'
import { createHash } from 'node:crypto'
import { FakeClock } from './support/fake-clock.js'

const CHUNK = 16 * 1024
const EDGE = 'https://edge.test'
const URL_ = 'https://origin.test/file.bin'
/** Settles in a microtask, so fake time cannot run ahead of verification. */
const sha256 = async (bytes: Uint8Array): Promise<Uint8Array> => createHash('sha256').update(bytes).digest()

type Behaviour = 'honest' | 'silent' | 'drip' | 'slow' | 'serial' | 'absent'

/** A peer holding every chunk that answers as `behaviour` says, on the fake clock. */
class FakePeer implements SourcePeer {
  readonly region = 'eu'
  destroyed = false
  load = 0
  throughput = 0
  firstByteMs = 0
  asked: number[] = []
  /** Chunks it says it is fetching over HTTP (FETCHING). */
  claims = new Set<number>()
  /** 'serial' sends one request at a time, in order: the later ones wait for the earlier. */
  #queue: Promise<unknown> = Promise.resolve()

  constructor(
    readonly id: string,
    readonly body: Uint8Array,
    readonly manifest: Manifest,
    readonly clock: FakeClock,
    public behaviour: Behaviour
  ) {}

  has(_id: string, _index: number): boolean {
    return !this.destroyed
  }
  fetching(_id: string, index: number): boolean {
    return this.claims.has(index)
  }
  heldCount(id: string): number {
    return this.manifest.chunks.filter((_, i) => this.has(id, i)).length
  }

  async request(
    _id: string,
    index: number,
    size: number,
    signal: AbortSignal,
    onData: (received: number) => void
  ): Promise<Uint8Array> {
    this.asked.push(index)
    this.load++
    const { start } = chunkBounds(this.manifest, index)
    const bytes = this.body.slice(start, start + size)
    let sent = 0
    try {
      return await new Promise<Uint8Array>((resolve, reject) => {
        const fail = (): void =>
          reject(new PeerRequestError('ERR_TIMEOUT', String(signal.reason), bytes.subarray(0, sent)))
        signal.addEventListener('abort', fail, { once: true })
        // Bytes per 10 ms tick: honest sends a chunk in 20 ms, slow 40 B/ms (above the
        // floor, far over the deadline for big chunks), drip one byte per 3 s.
        const step = this.behaviour === 'honest' ? size / 2 : this.behaviour === 'slow' ? 400 : 1
        const every = this.behaviour === 'drip' ? 3000 : 10
        const tick = (): void => {
          if (signal.aborted) return
          sent = Math.min(size, sent + step)
          onData(sent)
          if (sent === size) {
            this.throughput = size / 20
            resolve(bytes)
          } else {
            this.clock.setTimeout(tick, every)
          }
        }
        if (this.behaviour === 'absent') {
          reject(new PeerRequestError('ERR_PROTOCOL', 'peer does not have the chunk', new Uint8Array(0)))
        } else if (this.behaviour === 'serial') {
          // 400 ms per chunk, one after another: a busy honest peer.
          const turn = this.#queue.then(
            async () =>
              await new Promise<void>(done => {
                const step = (): void => {
                  if (signal.aborted) {
                    done()
                    return
                  }
                  sent = Math.min(size, sent + size / 40)
                  onData(sent)
                  if (sent === size) {
                    this.throughput = size / 400
                    resolve(bytes)
                    done()
                  } else this.clock.setTimeout(step, 10)
                }
                this.clock.setTimeout(step, 10)
              })
          )
          this.#queue = turn
        } else if (this.behaviour !== 'silent') this.clock.setTimeout(tick, 10)
      })
    } finally {
      this.load--
    }
  }
}

interface Setup {
  fetcher: ChunkFetcher<FakePeer>
  job: FetchJob
  clock: FakeClock
  /** HTTP requests made, with the fake time they were made at. */
  http: Array<{ index: number; start: number; at: number }>
  choked: string[]
  waitsFor: number[]
  /** FETCHING changes the fetcher reported, in order. */
  told: Array<{ index: number; state: string }>
  /** Wake fetches waiting on peers, as a HAVE or FETCHING frame does. */
  have: () => void
}

async function setup(
  peers: (clock: FakeClock, body: Uint8Array, manifest: Manifest) => FakePeer[],
  chunks = 8,
  chunkSize = CHUNK
): Promise<Setup & { peers: FakePeer[]; body: Uint8Array; manifest: Manifest }> {
  const body = new Uint8Array(chunks * chunkSize).map((_, i) => (i * 7) % 251)
  const manifest = await buildManifest({ url: URL_, chunkSize }, body, sha256)
  const clock = new FakeClock()
  const list = peers(clock, body, manifest)
  const http: Setup['http'] = []
  const choked: string[] = []
  const waitsFor: number[] = []
  const told: Setup['told'] = []
  const haveListeners = new Set<() => void>()
  const fetcher = new ChunkFetcher<FakePeer>({
    peerTimeoutMs: 4000,
    store: { getChunk: async () => undefined },
    holdings: { has: () => false, count: () => 0 },
    edges: () => new EdgeSet([{ url: EDGE, region: 'eu', rttMs: 1 }], 30_000, clock.now),
    peers: () => list,
    onPeerHave: listener => {
      haveListeners.add(listener)
      return () => haveListeners.delete(listener)
    },
    awaitPeers: async (_job, index) => {
      waitsFor.push(index)
    },
    fetchRange: async (url, start, end) => {
      http.push({ index: Math.floor(start / chunkSize), start, at: clock.now() })
      expect(url).toBe(`${EDGE}/file.bin`)
      return body.slice(start, end)
    },
    region: () => 'eu',
    peerSlots: new Limiter(6),
    httpSlots: new Limiter(4),
    urgentWindowMs: 3000,
    fetchingOverHttp: (_job, index, state) => told.push({ index, state }),
    random: () => 0.5,
    clock,
    sha256,
    ban: peer => {
      peer.destroyed = true
    },
    choke: peer => {
      choked.push(peer.id)
      peer.destroyed = true
    },
    report: () => {}
  })
  // head -1: no chunk is waited for by a reader unless a test says so (fetchAll does).
  const job: FetchJob = {
    url: URL_,
    id: await resourceId(manifest, sha256),
    manifest,
    signal: new AbortController().signal,
    first: 0,
    head: -1
  }
  const have = (): void => {
    for (const l of [...haveListeners]) l()
  }
  return { fetcher, job, clock, http, choked, waitsFor, told, have, peers: list, body, manifest }
}

/**
 * Fetch every chunk of the job, `parallel` at a time, with a reader waiting for the
 * lowest chunk not delivered yet, as chunkStream does; returns the fake time taken.
 */
/**
 * `lastHttpAt` is when the last HTTP request was made: fake time runs on while real
 * WebCrypto verifies, so it, not `ms`, says when a peer lost its last request.
 */
async function fetchAll(s: Setup, parallel = 8): Promise<{ ms: number; sources: string[]; lastHttpAt: number }> {
  const n = s.job.manifest.chunks.length
  const sources: string[] = new Array(n)
  s.job.head = 0
  const all = Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async (_, lane) => {
      for (let i = lane; i < n; i += parallel) {
        const got = await s.fetcher.fetch(s.job, i)
        sources[i] = got.source
        while (sources[s.job.head] !== undefined) s.job.head++
      }
    })
  )
  const ms = await s.clock.until(all, 60_000)
  await all
  return { ms, sources, lastHttpAt: Math.max(0, ...s.http.map(h => h.at)) }
}

describe('ChunkFetcher: peers earn their requests', () => {
  it('an honest peer serves every chunk but the first (which never waits for peers)', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('honest', body, m, clock, 'honest')])
    s.peers[0]!.has = () => true
    const { sources } = await fetchAll(s)
    expect(sources).toEqual(Array(8).fill('peer'))
    // A connected peer that holds the first chunk serves it too; later chunks wait for
    // room at it (it has not delivered yet: two at a time), never the first.
    expect(s.waitsFor).not.toContain(0)
  })

  it('the first chunk goes to HTTP at once when no connected peer has it; later chunks wait for peers', async () => {
    const s = await setup(() => [])
    const { sources } = await fetchAll(s)
    expect(sources).toEqual(Array(8).fill('edge'))
    expect(s.waitsFor).not.toContain(0)
    expect(s.waitsFor.length).toBeGreaterThan(0)
  })

  it('a silent peer claiming every chunk holds up the chunk the reader waits for only HEAD_DEADLINE_MS; after one probe it is choked', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('silent', body, m, clock, 'silent')], 16)
    const { lastHttpAt, sources } = await fetchAll(s)
    expect(sources).toEqual(Array(16).fill('edge'))
    expect(s.choked).toEqual(['silent'])
    // NEW_PEER_REQUESTS asked at once, which miss together (one strike), then one probe.
    expect(s.peers[0]!.asked.length).toBe(NEW_PEER_REQUESTS + 1)
    // Each request it held was the reader's chunk, or became it, well before any seconds-long deadline.
    expect(lastHttpAt).toBeLessThanOrEqual(4 * HEAD_DEADLINE_MS + 100)
    expect(s.fetcher.strikes(s.peers[0]!)).toBe(CHOKE_STRIKES)
  })

  it('a silent peer holding a chunk the reader does not wait for yet keeps it for the first-byte deadline', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('silent', body, m, clock, 'silent')], 4)
    const got = s.fetcher.fetch(s.job, 2) // head is -1: nobody waits for it
    await s.clock.until(got, 10_000)
    expect((await got).source).toBe('edge')
    expect(s.http[0]!.at).toBeGreaterThanOrEqual(FIRST_BYTE_NEW_PEER_MS)
    expect(s.http[0]!.at).toBeLessThanOrEqual(FIRST_BYTE_NEW_PEER_MS + 100)
  })

  it('an honest peer serves every chunk once it has delivered one: the wait for room ends when a request does', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('honest', body, m, clock, 'honest')], 16)
    const { ms, sources } = await fetchAll(s)
    expect(sources).toEqual(Array(16).fill('peer'))
    expect(ms).toBeLessThan(500)
  })

  it('a drip peer loses its requests at the throughput floor; its bytes are kept and HTTP Range continues after them', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('drip', body, m, clock, 'drip')], 2)
    const { lastHttpAt, sources } = await fetchAll(s)
    expect(sources).toEqual(['edge', 'edge'])
    expect(NEW_PEER_REQUESTS).toBeGreaterThanOrEqual(2)
    // Each chunk got one byte from the drip before it lost them: HTTP asked from byte 1 of the chunk on.
    expect(s.http.map(h => h.start).sort((a, b) => a - b)).toEqual([1, CHUNK + 1])
    // Both were the reader's chunk in turn: each lost the floor after HEAD_DEADLINE_MS of dripping.
    expect(lastHttpAt).toBeLessThanOrEqual(2 * HEAD_DEADLINE_MS + 100)
    expect(s.choked).toEqual([]) // the two requests were in flight together: one strike
    expect(s.fetcher.strikes(s.peers[0]!)).toBe(1)
  })

  it('a drip peer holding a chunk nobody waits for yet loses it after FLOOR_GRACE_MS', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('drip', body, m, clock, 'drip')], 4)
    const got = s.fetcher.fetch(s.job, 2)
    await s.clock.until(got, 10_000)
    expect((await got).prefix).toBe(1)
    expect(s.http[0]!.at).toBeGreaterThanOrEqual(FLOOR_GRACE_MS)
    expect(s.http[0]!.at).toBeLessThanOrEqual(FLOOR_GRACE_MS + 100)
  })

  it('a peer that missed a deadline once and then delivers is cleared, not choked', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('loaded', body, m, clock, 'silent')], 4)
    const peer = s.peers[0]!
    const first = s.fetcher.fetch({ ...s.job, first: -1 }, 1)
    await s.clock.until(first, 5000)
    expect((await first).source).toBe('edge')
    expect(s.fetcher.strikes(peer)).toBe(1)
    peer.behaviour = 'honest'
    const second = s.fetcher.fetch({ ...s.job, first: -1 }, 2)
    await s.clock.until(second, 5000)
    expect((await second).source).toBe('peer')
    expect(s.fetcher.strikes(peer)).toBe(0)
    expect(s.choked).toEqual([])
  })

  it('a peer sending above the floor but far slower than its deadline loses the request at the deadline', async () => {
    // 400 B per 10 ms = 40 KB/s, above the 32 KB/s floor: a 256 KiB chunk would take 6.6 s.
    const s = await setup((clock, body, m) => [new FakePeer('slow', body, m, clock, 'slow')], 2, 256 * 1024)
    const got = s.fetcher.fetch(s.job, 1)
    await s.clock.until(got, 10_000)
    const delivery = await got
    expect(delivery.source).toBe('edge')
    expect(delivery.prefix).toBeGreaterThan(100_000) // what the peer sent is kept
    expect(s.http[0]!.at).toBeGreaterThanOrEqual(PEER_DEADLINE_MIN_MS)
    expect(s.http[0]!.at).toBeLessThanOrEqual(PEER_DEADLINE_MIN_MS + 100)
    expect(s.fetcher.strikes(s.peers[0]!)).toBe(1)
  })

  it('a fast honest peer is preferred over one that missed a deadline', async () => {
    const s = await setup(
      (clock, body, m) => [
        new FakePeer('flaky', body, m, clock, 'silent'),
        new FakePeer('good', body, m, clock, 'honest')
      ],
      6
    )
    const [flaky, good] = s.peers as [FakePeer, FakePeer]
    // Chunk 1 goes to the unmeasured flaky peer first (the sort tries unmeasured peers
    // to learn their speed) and misses its first-byte deadline...
    good.has = () => false
    const one = s.fetcher.fetch({ ...s.job, first: -1 }, 1)
    await s.clock.until(one, 5000)
    expect((await one).source).toBe('edge')
    expect(s.fetcher.strikes(flaky)).toBe(1)
    // ...after which each chunk goes to the good peer first, though the flaky one still claims them.
    good.has = () => true
    flaky.behaviour = 'honest'
    const peers: Array<string | undefined> = []
    for (const i of [2, 3, 4, 5]) {
      const got = s.fetcher.fetch({ ...s.job, first: -1 }, i)
      await s.clock.until(got, 5000)
      peers.push((await got).peer?.id)
    }
    expect(peers).toEqual(['good', 'good', 'good', 'good'])
    expect(flaky.asked).toEqual([1])
  })

  it('bytes asked early (before the manifest) serve the first chunk when they verify, and are dropped when they do not', async () => {
    const s = await setup(() => [], 2)
    const right = s.body.slice(0, 64 * 1024) // more than the chunk: the edge's default chunk size was assumed
    const good = await s.fetcher.fetch({ ...s.job, early: { index: 0, bytes: Promise.resolve(right) } }, 0)
    expect(good).toMatchObject({ source: 'edge', prefix: 0 })
    expect(good.bytes).toEqual(s.body.slice(0, CHUNK))
    expect(s.http).toEqual([])
    const wrong = right.slice()
    wrong[5] = wrong[5]! ^ 1
    const fixed = await s.fetcher.fetch({ ...s.job, early: { index: 0, bytes: Promise.resolve(wrong) } }, 0)
    expect(fixed.bytes).toEqual(s.body.slice(0, CHUNK))
    expect(s.http.map(h => h.index)).toEqual([0])
  })

  it('a busy honest peer sending our requests one after another is not cut off: the later ones wait behind the earlier', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('busy', body, m, clock, 'serial')], 9)
    const busy = s.peers[0]!
    busy.throughput = 1 // proven: it may have eight requests at once, and FIRST_BYTE_MIN_MS for each
    const all = Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(async i => await s.fetcher.fetch({ ...s.job, first: -1 }, i)))
    let settled = false
    all.then(
      () => {
        settled = true
      },
      () => {
        settled = true
      }
    )
    await s.clock.until(all, 10_000)
    expect(settled).toBe(true)
    const got = await all
    // The eighth chunk's first bytes came after 2.8 s, over FIRST_BYTE_MIN_MS, while the peer kept sending.
    expect(got.map(g => g.source)).toEqual(Array(8).fill('peer'))
    expect(s.choked).toEqual([])
    expect(FIRST_BYTE_MIN_MS).toBeLessThan(2800)
  })

  it('a peer that answers ABSENT yet keeps claiming every chunk costs one try per chunk, then HTTP (no wait on it, no spin)', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('liar', body, m, clock, 'absent')], 4)
    const got = s.fetcher.fetch({ ...s.job, first: -1 }, 2)
    let settled = false
    got.then(
      () => {
        settled = true
      },
      () => {
        settled = true
      }
    )
    await s.clock.until(got, 10_000)
    expect(settled).toBe(true)
    expect((await got).source).toBe('edge')
    expect(s.peers[0]!.asked).toEqual([2])
    expect(s.http[0]!.at).toBeLessThan(100)
  })
})

describe('ChunkFetcher: media segments by deadline', () => {
  /** A job for a player's segment needed `deadline` ms from fake time 0. */
  const mediaJob = (s: Setup, deadline: number): FetchJob => ({
    ...s.job,
    media: { stream: 'v', deadlineMs: () => deadline - s.clock.now() }
  })
  /** A peer holding nothing until `hold()` is called. */
  const emptyPeer = (s: Setup & { peers: FakePeer[] }): { peer: FakePeer; hold: () => void } => {
    const peer = s.peers[0]!
    let held = false
    peer.has = () => held
    return {
      peer,
      hold: () => {
        held = true
        s.have()
      }
    }
  }

  it('a segment needed within the urgent window goes to HTTP at once when no connected peer holds it, and peers hear of it', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('p', body, m, clock, 'honest')], 2)
    emptyPeer(s)
    const got = s.fetcher.fetch(mediaJob(s, 2000), 0)
    await s.clock.until(got, 10_000)
    expect((await got).source).toBe('edge')
    expect(s.http[0]!.at).toBe(0)
    expect(s.told).toEqual([
      { index: 0, state: 'started' },
      { index: 0, state: 'delivered' }
    ])
  })

  it('a segment needed within the urgent window comes from a connected peer that holds it', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('p', body, m, clock, 'honest')], 2)
    const got = s.fetcher.fetch(mediaJob(s, 0), 0)
    await s.clock.until(got, 10_000)
    expect((await got).source).toBe('peer')
    expect(s.http).toEqual([])
    expect(s.told).toEqual([])
  })

  it('a segment further ahead that a peer is fetching over HTTP waits for its HAVE and comes from it: no second copy from the edge', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('p', body, m, clock, 'honest')], 2)
    const { peer, hold } = emptyPeer(s)
    peer.claims.add(0)
    const got = s.fetcher.fetch(mediaJob(s, 10_000), 0)
    await s.clock.advance(800)
    expect(s.http).toEqual([])
    hold()
    await s.clock.until(got, 10_000)
    expect((await got).source).toBe('peer')
    expect(s.http).toEqual([])
  })

  it('a peer that claims a segment and never delivers holds it up only until the urgent window: then HTTP', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('p', body, m, clock, 'honest')], 2)
    const { peer } = emptyPeer(s)
    peer.claims.add(0)
    const got = s.fetcher.fetch(mediaJob(s, 5000), 0)
    await s.clock.until(got, 10_000)
    expect((await got).source).toBe('edge')
    // Deadline 5000 ms minus the 3000 ms urgent window.
    expect(s.http[0]!.at).toBeGreaterThanOrEqual(2000)
    expect(s.http[0]!.at).toBeLessThanOrEqual(2100)
  })

  it('a segment further ahead that nobody holds or fetches goes to HTTP after a random moment within MEDIA_JITTER_MS', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('p', body, m, clock, 'honest')], 2)
    emptyPeer(s)
    const got = s.fetcher.fetch(mediaJob(s, 10_000), 0)
    await s.clock.until(got, 10_000)
    expect((await got).source).toBe('edge')
    // random() is 0.5 in these tests.
    expect(s.http[0]!.at).toBeGreaterThanOrEqual(MEDIA_JITTER_MS / 2)
    expect(s.http[0]!.at).toBeLessThanOrEqual(MEDIA_JITTER_MS / 2 + 20)
  })

  it('a claim that appears during the random moment is waited for instead of fetching a second copy', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('p', body, m, clock, 'honest')], 2)
    const { peer, hold } = emptyPeer(s)
    const got = s.fetcher.fetch(mediaJob(s, 10_000), 0)
    await s.clock.advance(100)
    peer.claims.add(0)
    s.have()
    await s.clock.advance(1000)
    expect(s.http).toEqual([])
    hold()
    await s.clock.until(got, 10_000)
    expect((await got).source).toBe('peer')
  })

  it('an HTTP fetch that fails is told to peers as failed, so they stop waiting for it', async () => {
    const s = await setup(() => [], 1)
    const fetcher = new ChunkFetcher<FakePeer>({
      ...s.fetcher.deps,
      fetchRange: async () => {
        throw new Error('edge down')
      }
    })
    await expect(fetcher.fetch(mediaJob(s, 0), 0)).rejects.toThrow(/no source delivered chunk 0/)
    expect(s.told).toEqual([
      { index: 0, state: 'started' },
      { index: 0, state: 'failed' }
    ])
  })
})

describe('ChunkFetcher: why a chunk came over HTTP (the fleet statistics)', () => {
  const fetchOne = async (s: Setup, job: FetchJob, index: number): Promise<unknown> => {
    const got = s.fetcher.fetch(job, index)
    await s.clock.until(got, 20_000)
    const d = await got
    expect(d.source).toBe('edge')
    return d.reason
  }

  it('no connected peer: no-peer', async () => {
    const s = await setup(() => [])
    expect(await fetchOne(s, s.job, 0)).toBe('no-peer')
  })

  it('a peer that missed its deadline, with or without sending some bytes first: peer-slow', async () => {
    const silent = await setup((clock, body, m) => [new FakePeer('silent', body, m, clock, 'silent')], 4)
    expect(await fetchOne(silent, silent.job, 2)).toBe('peer-slow')
    const drip = await setup((clock, body, m) => [new FakePeer('drip', body, m, clock, 'drip')], 4)
    expect(await fetchOne(drip, drip.job, 2)).toBe('peer-slow')
  })

  it('a peer that answered ABSENT: peer-error', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('absent', body, m, clock, 'absent')], 4)
    expect(await fetchOne(s, { ...s.job, first: -1 }, 2)).toBe('peer-error')
  })

  it('a peer that sent bytes that do not verify: peer-integrity', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('liar', body, m, clock, 'honest')], 4)
    s.peers[0]!.request = async (_id, _index, size) => await Promise.resolve(new Uint8Array(size).fill(1))
    expect(await fetchOne(s, { ...s.job, first: -1 }, 2)).toBe('peer-integrity')
    expect(s.peers[0]!.destroyed).toBe(true)
  })

  it('a segment in the urgent window nobody holds: deadline; one further ahead nobody holds or fetches: no-peer', async () => {
    const s = await setup((clock, body, m) => [new FakePeer('p', body, m, clock, 'honest')], 2)
    s.peers[0]!.has = () => false
    const media = (deadline: number): FetchJob => ({
      ...s.job,
      media: { stream: 'v', deadlineMs: () => deadline - s.clock.now() }
    })
    expect(await fetchOne(s, media(2000), 0)).toBe('deadline')
    expect(await fetchOne(s, media(s.clock.now() + 10_000), 1)).toBe('no-peer')
  })
})
