/**
 * Hostile frames: a peer floods the page with 4,000 HAVE frames of 60 KB bitfields for
 * made-up resources (240 MB announced), and peers send frames the protocol does not
 * have. The tab's retained heap must stay bounded, the page must still fetch correctly,
 * and a frame that cannot be parsed must cost the sender its channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deterministicBytes } from '../../../examples/demo/deterministic-bytes.js'
import { sha256Hex, startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import { mb, MiB, record } from '../support/measure.js'
import { explain, retainedHeap, timedFetch } from './support/page.js'
import { pageWithPeer } from './support/scenario.js'

const BODY = deterministicBytes(2 * MiB, 'after-flood')
const PATH = '/after.bin'
const FLOOD_FRAMES = 4000
const FLOOD_BITFIELD_BYTES = 60_000
/**
 * Retained growth allowed after the flood and a GC: per-peer state is capped, so what
 * 240 MB of announcements may leave behind is a few MiB of bookkeeping, not the bitfields.
 */
const MAX_RETAINED_GROWTH = 16 * MiB
const CLOSE_WAIT_MS = 5000

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv({ [PATH]: { body: BODY, headers: { 'Cache-Control': 'public, max-age=3600' } } })
})

afterAll(async () => {
  await env.close()
})

async function closedWithin(closed: Promise<void>, ms: number): Promise<boolean> {
  return await Promise.race([
    closed.then(() => true),
    new Promise<boolean>(resolve => setTimeout(() => resolve(false), ms))
  ])
}

describe('a HAVE flood', () => {
  it('leaves the tab heap within 16 MiB of where it was, and the page still fetches correctly', async () => {
    const joined = await pageWithPeer(env, 'have-flood', 'flood', [], {
      peerInit: { flood: { frames: FLOOD_FRAMES, bitfieldBytes: FLOOD_BITFIELD_BYTES } }
    })
    try {
      const before = await retainedHeap(joined.page)
      const flood = await joined.peer.flood()
      // The page has taken every frame off the channel once it answers one sent after them
      // (or it closed the channel, which the record below shows).
      const drained = await joined.peer.roundTrip()
      const after = await retainedHeap(joined.page)
      const growth = after.total - before.total
      const r = await timedFetch(joined.page, PATH, 30_000)
      record('client', 'have-flood: 4000 x 60 KB HAVEs', {
        ...flood,
        heapBefore: before,
        heapAfter: after,
        growthMiB: +(growth / MiB).toFixed(1),
        closedByPage: joined.peer.counters.closedByPage,
        drained,
        fetchDone: r.done,
        fetchMs: Math.round(r.ms)
      })
      expect(drained || joined.peer.counters.closedByPage, 'the page neither answered after the flood nor closed').toBe(
        true
      )
      expect(growth, `retained heap grew by ${mb(growth)} (${flood.framesSent} HAVE frames sent)`).toBeLessThanOrEqual(
        MAX_RETAINED_GROWTH
      )
      expect(r.done, explain('after the flood', r.events)).toBe(true)
      expect(r.sha256).toBe(sha256Hex(BODY))
    } finally {
      await joined.close()
    }
  }, 90_000)

  it('an unknown frame type (99) closes the channel; the page keeps working', async () => {
    const joined = await pageWithPeer(env, 'silent', 'unknown-frame', [])
    try {
      joined.peer.sendRaw(Uint8Array.of(99, 0, 0, 0, 1))
      const closed = await closedWithin(joined.peer.closed, CLOSE_WAIT_MS)
      record('client', 'frames: unknown type 99', { closedByPage: closed })
      expect(closed, 'the page kept a channel that sent frame type 99').toBe(true)
      const r = await timedFetch(joined.page, PATH, 30_000)
      expect(r.sha256).toBe(sha256Hex(BODY))
    } finally {
      await joined.close()
    }
  }, 60_000)

  it('an oversized frame (70,000 bytes, over the 64 KiB cap) closes the channel', async () => {
    const joined = await pageWithPeer(env, 'silent', 'oversized-frame', [])
    try {
      const big = new Uint8Array(70_000)
      big[0] = 2 // HAVE, with a length no valid HAVE under the cap can have
      joined.peer.sendRaw(big)
      const closed = await closedWithin(joined.peer.closed, CLOSE_WAIT_MS)
      record('client', 'frames: 70,000-byte frame', { closedByPage: closed })
      expect(closed, 'the page kept a channel that sent a 70,000-byte frame').toBe(true)
    } finally {
      await joined.close()
    }
  }, 60_000)
})
