/**
 * Request replay: a peer connects to a page that holds an 8 MiB resource (32 chunks) and
 * asks for the same 32 chunks 400 times each (12,800 requests, at most 64 unanswered).
 * The page must upload at most a small multiple of the 32 chunks' bytes, answer the
 * rest (ABSENT, or close the channel on the abuser), and keep serving other peers: a
 * second page fetching during the replay still gets most of the file from it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deterministicBytes } from '../../../examples/demo/deterministic-bytes.js'
import { sha256Hex, startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import { HostilePeer, type HostileResource } from '../support/hostile-peer.js'
import { mb, MiB, record } from '../support/measure.js'
import { createCdn, explain, timedFetch } from './support/page.js'
import { resourceOf } from './support/scenario.js'

const BODY = deterministicBytes(8 * MiB, 'replay-8mib')
const PATH = '/replay.bin'
const CHUNKS = 32
const ROUNDS = 400
/** Uploaded to the replayer at most this many times the 32 chunks' bytes. */
const MAX_UPLOAD_FACTOR = 3
/** The replay stops asking after this long even if the page keeps answering (today). */
const REPLAY_LIMIT_MS = 25_000

let env: CdnEnv
let resource: HostileResource

beforeAll(async () => {
  env = await startCdnEnv({ [PATH]: { body: BODY, headers: { 'Cache-Control': 'public, max-age=3600' } } })
  resource = await resourceOf(env, PATH, BODY)
})

afterAll(async () => {
  await env?.close()
})

describe('request replay against a page that holds a resource', () => {
  it('the page uploads at most 3x the 32 chunks, answers the rest, and still serves another page', async () => {
    const swarm = 'replay'
    const seeder = await env.openPage()
    await createCdn(seeder, { tracker: env.tracker.url, swarm })
    const seeded = await timedFetch(seeder, PATH, 30_000)
    expect(seeded.sha256).toBe(sha256Hex(BODY))
    const peer = new HostilePeer({
      tracker: env.tracker.url,
      swarm,
      mode: 'replay',
      resources: [resource],
      replay: { chunks: CHUNKS, rounds: ROUNDS, timeLimitMs: REPLAY_LIMIT_MS }
    })
    try {
      await peer.start({ offer: true })
      await peer.connected
      const replaying = peer.replay()
      // Another page fetches the file while the replay runs (or right after, if the page
      // has already cut it short): the seeder must still serve it.
      await new Promise(resolve => setTimeout(resolve, 2000))
      const other = await env.openPage()
      await createCdn(other, { tracker: env.tracker.url, swarm })
      const r = await timedFetch(other, PATH, 30_000)
      const replay = await replaying
      const uploaded =
        (await seeder.evaluate(() => (globalThis as any).cdn.stats().uploaded as number)) - r.stats.bytes.peer
      const chunkBytes = CHUNKS * resource.manifest.chunkSize
      record('client', 'replay: 32 chunks x 400', {
        ...replay,
        uploadedMiB: +(uploaded / MiB).toFixed(1),
        limitMiB: (MAX_UPLOAD_FACTOR * chunkBytes) / MiB,
        closedByPage: peer.counters.closedByPage,
        otherDone: r.done,
        otherMs: Math.round(r.ms),
        otherPeer: r.stats.bytes.peer
      })
      expect(
        uploaded,
        `the page uploaded ${mb(uploaded)} to a peer asking for ${mb(chunkBytes)} over and over`
      ).toBeLessThanOrEqual(MAX_UPLOAD_FACTOR * chunkBytes)
      expect(replay.bytesReceived).toBeLessThanOrEqual(MAX_UPLOAD_FACTOR * chunkBytes)
      // Every request answered (ABSENT beyond what the page will send), unless it dropped the abuser.
      if (!peer.counters.closedByPage) {
        expect(replay.timedOut, `replay still running at ${REPLAY_LIMIT_MS} ms: ${replay.requestsSent} sent`).toBe(
          false
        )
        expect(replay.unanswered).toBe(0)
        expect(replay.absents).toBeGreaterThan(0)
      }
      expect(r.done, explain('other page', r.events)).toBe(true)
      expect(r.sha256).toBe(sha256Hex(BODY))
      expect(r.stats.bytes.peer, explain('other page', r.events)).toBeGreaterThan(0.5 * BODY.length)
      await other.context().close()
    } finally {
      await peer.stop()
      await seeder.context().close()
    }
  }, 90_000)
})
