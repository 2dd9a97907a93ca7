/**
 * A drip peer: it claims every chunk of an 8 MiB file and answers every REQUEST with the
 * right bytes, one byte per DATA frame every 3 s, just under the SDK's 4 s stall timeout.
 * The visitor must still get the exact file within a bound of the honest-peer time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deterministicBytes } from '../../../examples/demo/deterministic-bytes.js'
import { sha256Hex, startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import type { HostileResource } from '../support/hostile-peer.js'
import { record } from '../support/measure.js'
import { explain, timedFetch } from './support/page.js'
import { boundFor, honestFetch, pageWithPeer, resourceOf } from './support/scenario.js'

const MIB = 1024 * 1024
const BODY = deterministicBytes(8 * MIB, 'drip-8mib')
const PATH = '/drip.bin'
/** Today the fetch never ends: it is stopped here and the test fails on that. */
const STOP_MS = 60_000

let env: CdnEnv
let resource: HostileResource
let honestMs = 0

beforeAll(async () => {
  env = await startCdnEnv({ [PATH]: { body: BODY, headers: { 'Cache-Control': 'public, max-age=3600' } } })
  resource = await resourceOf(env, PATH, BODY)
})

afterAll(async () => {
  await env?.close()
})

describe('a drip peer claiming every chunk', () => {
  it('baseline: an honest Node peer serves the 8 MiB file', async () => {
    const r = await honestFetch(env, 'drip-honest', PATH, resource)
    honestMs = r.ms
    record('client', 'drip: honest baseline', {
      ms: Math.round(r.ms),
      peer: r.stats.bytes.peer,
      edge: r.stats.bytes.edge
    })
    expect(r.done, explain('honest', r.events)).toBe(true)
    expect(r.sha256).toBe(sha256Hex(BODY))
    expect(r.stats.bytes.peer).toBeGreaterThan(0)
  }, 60_000)

  it('the fetch completes with exact bytes within 3x the honest time + 2.5 s', async () => {
    expect(honestMs, 'the baseline must run first').toBeGreaterThan(0)
    const joined = await pageWithPeer(env, 'drip', 'drip', [resource])
    try {
      const r = await timedFetch(joined.page, PATH, STOP_MS)
      const bound = boundFor(honestMs)
      record('client', 'drip: 8 MiB with a drip peer', {
        done: r.done,
        ms: Math.round(r.ms),
        boundMs: Math.round(bound),
        size: r.size,
        ...r.stats.bytes,
        requestsSeen: joined.peer.counters.requestsSeen,
        dripBytes: joined.peer.counters.dataBytesSent,
        closedByPage: joined.peer.counters.closedByPage
      })
      expect(
        r.done,
        `fetch stopped at ${STOP_MS} ms with ${r.size} of ${BODY.length} bytes (${r.error ?? ''}); ${explain('drip victim', r.events)}`
      ).toBe(true)
      expect(r.sha256).toBe(sha256Hex(BODY))
      expect(r.ms, `took ${Math.round(r.ms)} ms; honest ${Math.round(honestMs)} ms`).toBeLessThanOrEqual(bound)
    } finally {
      await joined.close()
    }
  }, 90_000)
})
