/**
 * The topology every hostile-peer test shares: one Node peer of a given mode in a swarm
 * of its own, then a fresh page joining it. The honest run of the same topology is the
 * yardstick the hostile runs are held to.
 */
import type { Page } from 'playwright'
import type { CdnEnv } from '../../../helpers/cdn-env.js'
import { until } from '../../support/measure.js'
import {
  HostilePeer,
  resourceAt,
  type HostileMode,
  type HostilePeerInit,
  type HostileResource
} from '../../support/hostile-peer.js'
import { createCdn, timedFetch, type TimedFetch } from './page.js'

/** The manifest and bytes of `path` on the env's origin, as a hostile peer needs them. */
export async function resourceOf(env: CdnEnv, path: string, body: Uint8Array): Promise<HostileResource> {
  return await resourceAt(env.edges[0]!.url, `${env.origin.url}${path}`, body)
}

export interface Joined {
  page: Page
  peer: HostilePeer
  close: () => Promise<void>
}

/**
 * Start a `mode` peer in `swarm`, open a page, create the SDK there with `init`, and wait
 * until the page counts `peers` connected ones (the hostile one, and any pages already
 * in the swarm).
 */
export async function pageWithPeer(
  env: CdnEnv,
  mode: HostileMode,
  swarm: string,
  resources: HostileResource[],
  {
    init = {},
    peerInit = {},
    peers = 1
  }: { init?: Record<string, unknown>; peerInit?: Partial<HostilePeerInit>; peers?: number } = {}
): Promise<Joined> {
  const peer = new HostilePeer({ tracker: env.tracker.url, swarm, mode, resources, ...peerInit })
  await peer.start()
  const page = await env.openPage()
  await createCdn(page, { tracker: env.tracker.url, swarm, ...init })
  await peer.connected
  const seen = await until(
    async () => await page.evaluate(n => (globalThis as any).cdn.stats().peers.length >= n, peers),
    10_000
  )
  if (!seen) throw new Error(`the page never listed ${peers} connected peers (the ${mode} one among them)`)
  return {
    page,
    peer,
    close: async () => {
      await peer.stop()
      await page
        .context()
        .close()
        .catch(() => {})
    }
  }
}

/** One honest-peer fetch of `path`: the baseline time for this file. */
export async function honestFetch(
  env: CdnEnv,
  swarm: string,
  path: string,
  resource: HostileResource
): Promise<TimedFetch> {
  const joined = await pageWithPeer(env, 'honest', swarm, [resource])
  try {
    return await timedFetch(joined.page, path, 30_000)
  } finally {
    await joined.close()
  }
}

/**
 * A hostile run may take `SLOWDOWN` times the honest one plus one first-byte deadline
 * of a peer that has not delivered yet (the SDK cannot know sooner that a peer not
 * serving the chunk the page waits for is silent) plus slack for a loaded 2-core
 * machine. Before the scheduler's deadlines the drip run never finished and the silent
 * one took 24 s; after, both take under 1.6 s against an honest 0.5-0.7 s.
 */
export const SLOWDOWN = 3
export const PEER_FIRST_BYTE_MS = 2000
export const SLACK_MS = 500

export function boundFor(honestMs: number): number {
  return SLOWDOWN * honestMs + PEER_FIRST_BYTE_MS + SLACK_MS
}
