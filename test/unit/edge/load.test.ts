/** The load an edge reports with each heartbeat, timed by the injected clock. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLoadSampler } from '../../../edge/src/load.js'
import type { EdgeCounters } from '../../../edge/src/metrics.js'

const counters = (): EdgeCounters => ({
  hits: 0,
  misses: 0,
  stale: 0,
  revalidations: 0,
  originRequests: 0,
  bytesServed: 0
})

describe('createLoadSampler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('reports the bytes per second served since the previous sample, by the clock it is given', () => {
    const c = counters()
    const sample = createLoadSampler(
      c,
      () => 3,
      () => Date.now()
    )
    c.bytesServed = 10_000
    vi.advanceTimersByTime(2000)
    expect(sample()).toEqual({ connections: 3, bytesPerSec: 5000, hitRatio: 0 })
    // The next sample covers only what came since: one heartbeat, not the edge's whole life.
    c.bytesServed += 1000
    vi.advanceTimersByTime(10_000)
    expect(sample().bytesPerSec).toBe(100)
  })

  it('reports 0 bytes per second when no time has passed, and the hit ratio of all requests', () => {
    const c = counters()
    let now = 5000
    const sample = createLoadSampler(
      c,
      () => 0,
      () => now
    )
    c.bytesServed = 123
    c.hits = 3
    c.misses = 1
    expect(sample()).toEqual({ connections: 0, bytesPerSec: 0, hitRatio: 0.75 })
    now += 1000
    expect(sample().bytesPerSec).toBe(0)
  })
})
