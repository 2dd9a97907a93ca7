/**
 * Tracker outage: a page is created while its tracker is down. It must load content
 * meanwhile (configured edges when it has them, else the origin), and once the tracker
 * is back on the same port, with the edge registered again, the page must reconnect
 * within a bound, learn the edge, fetch its next resource from it, and join the swarm.
 *
 * The bound: the SDK's reconnect backoff starts at 1 s with jitter; the outage here is a
 * few seconds, so the next attempt is due within about 5 s. The edge re-registers on its
 * own backoff (0.5 s minimum) in the same window. RECONNECT_BOUND_MS covers both plus
 * slack; every wait is a poll with that deadline, never a fixed sleep.
 */
import { createServer } from 'node:net'
import type { Page } from 'playwright'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deterministicBytes } from '../../../examples/demo/deterministic-bytes.js'
import { sha256Hex, startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import { createTracker, type Tracker, type TrackerStats } from '../../../tracker/src/index.js'
import { infoHashOf } from '../support/tracker-signaller.js'
import { MiB, record, until } from '../support/measure.js'
import { createCdn, explain, timedFetch } from './support/page.js'

const FILES = {
  '/first-a.bin': deterministicBytes(1 * MiB, 'outage-first-a'),
  '/next-a.bin': deterministicBytes(1 * MiB, 'outage-next-a'),
  '/first-b.bin': deterministicBytes(1 * MiB, 'outage-first-b'),
  '/next-b.bin': deterministicBytes(1 * MiB, 'outage-next-b')
}
const RECONNECT_BOUND_MS = 10_000

let env: CdnEnv
let port: number
/** The tracker now listening on `port` (the env's first, later its replacements). */
let current: Tracker | undefined

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>(resolve => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

beforeAll(async () => {
  port = await freePort()
  env = await startCdnEnv(
    Object.fromEntries(
      Object.entries(FILES).map(([path, body]) => [
        path,
        { body, headers: { 'Cache-Control': 'public, max-age=3600' } }
      ])
    ),
    { trackerInit: { port } }
  )
  current = env.tracker
})

afterAll(async () => {
  await current?.stop()
  await env?.close()
})

async function trackerStats(tracker: Tracker): Promise<TrackerStats | undefined> {
  try {
    return (await (await fetch(`${tracker.httpUrl}/stats`)).json()) as TrackerStats
  } catch {
    return undefined
  }
}

/** Bring the tracker back on the same port; resolves once the edge has registered again. */
async function restartTracker(): Promise<{ tracker: Tracker; edgeMs: number }> {
  const tracker = (current = createTracker({ port, edgeToken: 'secret' }))
  const started = performance.now()
  await tracker.start()
  const registered = await until(async () => ((await trackerStats(tracker))?.edges ?? 0) > 0, RECONNECT_BOUND_MS)
  if (!registered)
    throw new Error(`the edge did not register with the restarted tracker within ${RECONNECT_BOUND_MS} ms`)
  return { tracker, edgeMs: Math.round(performance.now() - started) }
}

async function inSwarm(tracker: Tracker, swarm: string): Promise<boolean> {
  const hex = Buffer.from(infoHashOf(swarm), 'latin1').toString('hex')
  return ((await trackerStats(tracker))?.swarmList ?? []).some(s => s.infoHash === hex && s.peers > 0)
}

async function statsOf(page: Page): Promise<{ edge?: string }> {
  return await page.evaluate(() => (globalThis as any).cdn.stats())
}

describe('a page created while the tracker is down', () => {
  it('without configured edges: loads from the origin, then reconnects, uses the edge and joins the swarm', async () => {
    const swarm = 'outage-a'
    await current!.stop()
    const page = await env.openPage()
    try {
      await createCdn(page, { tracker: `ws://127.0.0.1:${port}`, swarm })
      const first = await timedFetch(page, '/first-a.bin', 20_000)
      expect(first.sha256, explain('first fetch', first.events)).toBe(sha256Hex(FILES['/first-a.bin']))
      const { tracker, edgeMs } = await restartTracker()
      const back = performance.now()
      const edgeKnown = await until(async () => (await statsOf(page)).edge !== undefined, RECONNECT_BOUND_MS)
      const edgeAtMs = Math.round(performance.now() - back)
      const joined = await until(
        async () => await inSwarm(tracker, swarm),
        Math.max(0, RECONNECT_BOUND_MS - (performance.now() - back))
      )
      const next = await timedFetch(page, '/next-a.bin', 20_000)
      const nextBytes = next.stats.resources[`${env.origin.url}/next-a.bin`]
      record('client', 'tracker outage: no configured edges', {
        first: first.stats.bytes,
        edgeRegisteredMs: edgeMs,
        edgeKnown,
        edgeKnownAfterMs: edgeAtMs,
        joined,
        next: nextBytes,
        chosen: next.stats.edge
      })
      expect(
        edgeKnown,
        `stats().edge still unset ${RECONNECT_BOUND_MS} ms after the tracker came back (edge registered after ${edgeMs} ms); ${explain('page', next.events)}`
      ).toBe(true)
      expect(joined, 'the page did not rejoin the swarm').toBe(true)
      expect(next.sha256).toBe(sha256Hex(FILES['/next-a.bin']))
      expect(nextBytes?.edge ?? 0).toBeGreaterThan(0)
      expect(nextBytes?.origin ?? 0).toBe(0)
    } finally {
      await page.context().close()
    }
  }, 60_000)

  it('with a configured edge: uses it from the start, then reconnects and joins the swarm', async () => {
    const swarm = 'outage-b'
    await current!.stop()
    const page = await env.openPage()
    try {
      await createCdn(page, { tracker: `ws://127.0.0.1:${port}`, swarm, edges: [env.edges[0]!.url] })
      const first = await timedFetch(page, '/first-b.bin', 20_000)
      const firstBytes = first.stats.resources[`${env.origin.url}/first-b.bin`]
      expect(first.sha256, explain('first fetch', first.events)).toBe(sha256Hex(FILES['/first-b.bin']))
      expect(firstBytes?.edge ?? 0).toBeGreaterThan(0)
      expect(firstBytes?.origin ?? 0).toBe(0)
      const { tracker, edgeMs } = await restartTracker()
      const back = performance.now()
      const joined = await until(async () => await inSwarm(tracker, swarm), RECONNECT_BOUND_MS)
      const joinedMs = Math.round(performance.now() - back)
      const next = await timedFetch(page, '/next-b.bin', 20_000)
      const nextBytes = next.stats.resources[`${env.origin.url}/next-b.bin`]
      record('client', 'tracker outage: configured edge', {
        first: firstBytes,
        edgeRegisteredMs: edgeMs,
        joined,
        joinedAfterMs: joinedMs,
        next: nextBytes,
        chosen: next.stats.edge
      })
      expect(joined, `the page did not rejoin the swarm within ${RECONNECT_BOUND_MS} ms`).toBe(true)
      expect(next.stats.edge).toBe(env.edges[0]!.url)
      expect(next.sha256).toBe(sha256Hex(FILES['/next-b.bin']))
      expect(nextBytes?.edge ?? 0).toBeGreaterThan(0)
      expect(nextBytes?.origin ?? 0).toBe(0)
    } finally {
      await page.context().close()
    }
  }, 60_000)
})
