/** The load the edge reports to the tracker with each heartbeat. */
import type { EdgeLoad, Now } from '../../protocol/src/index.js'
import type { EdgeCounters } from './metrics.js'

/**
 * A sampler: each call reports the bytes per second served since the previous call (since
 * creation for the first), so the rate covers one heartbeat, not the edge's whole life.
 */
export function createLoadSampler(counters: EdgeCounters, connections: () => number, now: Now): () => EdgeLoad {
  let last = { at: now(), bytes: counters.bytesServed }
  return () => {
    const at = now()
    const elapsedMs = at - last.at
    const bytesPerSec = elapsedMs > 0 ? Math.round(((counters.bytesServed - last.bytes) * 1000) / elapsedMs) : 0
    last = { at, bytes: counters.bytesServed }
    const total = counters.hits + counters.misses
    return {
      connections: connections(),
      bytesPerSec: Math.max(0, bytesPerSec),
      hitRatio: total === 0 ? 0 : counters.hits / total
    }
  }
}
