/**
 * A silent peer: it claims every chunk of an 8 MiB file and never answers a REQUEST.
 * The visitor must get the exact file within a bound of the honest-peer time, alone
 * with it (the edge serves) and with an honest seeder page in the swarm too, and must
 * stop asking it: a peer that never delivered has not earned more requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deterministicBytes } from '../../../examples/demo/deterministic-bytes.js'
import { sha256Hex, startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import type { HostileResource } from '../support/hostile-peer.js'
import { record } from '../support/measure.js'
import { createCdn, explain, timedFetch } from './support/page.js'
import { boundFor, honestFetch, pageWithPeer, resourceOf } from './support/scenario.js'

const MIB = 1024 * 1024
const BODY = deterministicBytes(8 * MIB, 'silent-8mib')
const PATH = '/silent.bin'
const STOP_MS = 45_000
/** Requests a peer that never sent a byte may see: a first probe or two, not one per chunk. */
const MAX_SILENT_REQUESTS = 4

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

describe('a silent peer claiming every chunk', () => {
  it('baseline: an honest Node peer serves the 8 MiB file', async () => {
    const r = await honestFetch(env, 'silent-honest', PATH, resource)
    honestMs = r.ms
    record('client', 'silent: honest baseline', { ms: Math.round(r.ms), peer: r.stats.bytes.peer })
    expect(r.done, explain('honest', r.events)).toBe(true)
    expect(r.sha256).toBe(sha256Hex(BODY))
  }, 60_000)

  it('alone with it, the visitor gets the file within the bound and stops asking it', async () => {
    expect(honestMs, 'the baseline must run first').toBeGreaterThan(0)
    const joined = await pageWithPeer(env, 'silent', 'silent-alone', [resource])
    try {
      const r = await timedFetch(joined.page, PATH, STOP_MS)
      const { requestsSeen, closedByPage } = joined.peer.counters
      record('client', 'silent: alone', {
        done: r.done,
        ms: Math.round(r.ms),
        boundMs: Math.round(boundFor(honestMs)),
        ...r.stats.bytes,
        requestsSeen,
        closedByPage
      })
      expect(r.done, `stopped at ${STOP_MS} ms with ${r.size} bytes; ${explain('victim', r.events)}`).toBe(true)
      expect(r.sha256).toBe(sha256Hex(BODY))
      expect(r.ms, `took ${Math.round(r.ms)} ms; honest ${Math.round(honestMs)} ms`).toBeLessThanOrEqual(
        boundFor(honestMs)
      )
      expect(requestsSeen, `the silent peer was asked ${requestsSeen} times`).toBeLessThanOrEqual(MAX_SILENT_REQUESTS)
    } finally {
      await joined.close()
    }
  }, 60_000)

  it('with an honest seeder page in the swarm too, the visitor gets the file within the bound from the seeder', async () => {
    expect(honestMs, 'the baseline must run first').toBeGreaterThan(0)
    const swarm = 'silent-seeded'
    // The seeder joins and fetches first, alone, from the edge; its announce offers went
    // to nobody, so the silent peer (joining next) meets only the visitor.
    const seeder = await env.openPage()
    await createCdn(seeder, { tracker: env.tracker.url, swarm })
    const seeded = await timedFetch(seeder, PATH, 30_000)
    expect(seeded.sha256).toBe(sha256Hex(BODY))
    const joined = await pageWithPeer(env, 'silent', swarm, [resource], { peers: 2 })
    try {
      const r = await timedFetch(joined.page, PATH, STOP_MS)
      const { requestsSeen, closedByPage } = joined.peer.counters
      record('client', 'silent: with an honest seeder page', {
        done: r.done,
        ms: Math.round(r.ms),
        boundMs: Math.round(boundFor(honestMs)),
        ...r.stats.bytes,
        requestsSeen,
        closedByPage
      })
      expect(r.done, `stopped at ${STOP_MS} ms with ${r.size} bytes; ${explain('victim', r.events)}`).toBe(true)
      expect(r.sha256).toBe(sha256Hex(BODY))
      expect(r.ms, `took ${Math.round(r.ms)} ms; honest ${Math.round(honestMs)} ms`).toBeLessThanOrEqual(
        boundFor(honestMs)
      )
      expect(requestsSeen, `the silent peer was asked ${requestsSeen} times`).toBeLessThanOrEqual(MAX_SILENT_REQUESTS)
      // The honest page, not the edge, carried the file.
      expect(r.stats.bytes.peer).toBeGreaterThan(0.5 * BODY.length)
    } finally {
      await joined.close()
      await seeder.context().close()
    }
  }, 60_000)
})
