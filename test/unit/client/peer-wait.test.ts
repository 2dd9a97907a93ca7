/**
 * The fetch's wait for peers (client/src/peer/peer-wait.ts) against a stub swarm: who
 * may hold a fetch back, and who may not (peer ids announced on the tracker that never
 * complete a connection).
 */
import { describe, expect, it } from 'vitest'
import { awaitPeers, OFFER_ANSWER_MS, type WaitPeer } from '../../../client/src/peer/peer-wait.js'

interface StubSwarm {
  announced: boolean
  announcedAt: number
  others: number
  connecting: number
  peers: Map<string, WaitPeer>
  /** `performance.now()` of each attempt's last sign of life (answers, connections being set up). */
  attempts: number[]
  /** `performance.now()` of each of our offers nobody answered yet. */
  offers: number[]
  attemptsSince: (since: number, offeredSince: number) => number
}

function stubSwarm(init: Partial<StubSwarm> = {}): StubSwarm {
  const s: StubSwarm = {
    announced: true,
    announcedAt: performance.now(),
    others: 0,
    connecting: 0,
    peers: new Map(),
    attempts: [],
    offers: [],
    attemptsSince: (since, offeredSince) =>
      s.attempts.filter(t => t >= since).length + s.offers.filter(t => t >= offeredSince).length,
    ...init
  }
  return s
}

const WAIT_MS = 60_000
const CONNECT_MS = 150

/** How long awaitPeers waited, in ms; the test's own timeout (5 s) is far below WAIT_MS. */
async function waited(swarm: StubSwarm, connectMs = CONNECT_MS): Promise<number> {
  const started = performance.now()
  await awaitPeers({
    swarm,
    resourceId: 'r',
    first: 0,
    maxPeers: 8,
    waitMs: WAIT_MS,
    connectMs,
    signal: new AbortController().signal,
    current: () => true
  })
  return performance.now() - started
}

describe('awaitPeers', { timeout: 5000 }, () => {
  it('160 announced peer ids with our offers to them unanswered: waits only until the offers are connectMs old', async () => {
    const swarm = stubSwarm({ others: 160, offers: Array.from({ length: 5 }, () => performance.now()) })
    expect(await waited(swarm)).toBeLessThan(CONNECT_MS + 1000)
  })

  it('unanswered offers hold a fetch OFFER_ANSWER_MS, not a long connectMs', async () => {
    const swarm = stubSwarm({ others: 160, offers: Array.from({ length: 5 }, () => performance.now()) })
    const ms = await waited(swarm, 60_000)
    expect(ms).toBeGreaterThanOrEqual(OFFER_ANSWER_MS - 20)
    expect(ms).toBeLessThan(OFFER_ANSWER_MS + 1000)
  })

  it('offers already stale (a later fetch): does not wait at all', async () => {
    const swarm = stubSwarm({ others: 160, offers: [performance.now() - 10_000] })
    expect(await waited(swarm)).toBeLessThan(200)
  })

  it('a tracker that never answers our announce holds a fetch connectMs at most', async () => {
    const swarm = stubSwarm({ announced: false, others: 0 })
    expect(await waited(swarm)).toBeLessThan(CONNECT_MS + 1000)
  })

  it('an answer that renews an attempt keeps the wait going; it ends once the peer has the chunk', async () => {
    const swarm = stubSwarm({ others: 1, connecting: 1, attempts: [performance.now()] })
    // The attempt shows life again and again (an answer, then ICE), then connects.
    const renew = setInterval(() => {
      swarm.attempts = [performance.now()]
    }, 50)
    setTimeout(() => {
      clearInterval(renew)
      swarm.attempts = []
      swarm.connecting = 0
      swarm.peers.set('p', { has: () => true, haveComplete: true, openedAt: performance.now() })
    }, 3 * CONNECT_MS)
    const ms = await waited(swarm)
    clearInterval(renew)
    expect(ms).toBeGreaterThanOrEqual(3 * CONNECT_MS - 20)
    expect(ms).toBeLessThan(3 * CONNECT_MS + 1000)
  })

  it('an open peer still sending its HAVEs holds the wait, but not forever', async () => {
    const swarm = stubSwarm({
      others: 1,
      peers: new Map([['p', { has: () => false, haveComplete: false, openedAt: performance.now() }]])
    })
    const ms = await waited(swarm)
    expect(ms).toBeGreaterThanOrEqual(CONNECT_MS - 20)
    expect(ms).toBeLessThan(CONNECT_MS + 1000)
  })

  it('every reachable peer connected and done with its HAVEs: no wait (the fast path)', async () => {
    const swarm = stubSwarm({
      others: 1,
      offers: [performance.now(), performance.now()], // our other offers, forwarded to nobody
      peers: new Map([['p', { has: () => false, haveComplete: true, openedAt: performance.now() }]])
    })
    expect(await waited(swarm, 10_000)).toBeLessThan(200)
  })
})
