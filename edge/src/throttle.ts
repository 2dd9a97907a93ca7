/**
 * A shared cap on response body bytes per second. Each send reserves its bytes on one
 * virtual clock, so concurrent responses share the rate first come, first served.
 */
import type { ServerResponse } from 'node:http'

export interface Throttle {
  /** Resolves when `bytes` more may be sent. */
  take: (bytes: number) => Promise<void>
}

/** Bytes written per reservation: small enough to interleave responses smoothly. */
export const THROTTLE_SLICE_BYTES = 16 * 1024
/** A short burst is allowed so small objects need no timer at all. */
const BURST_S = 0.05

export function createThrottle(bytesPerSec: number): Throttle {
  let nextFree = 0
  return {
    async take(bytes) {
      const now = performance.now() / 1000
      const start = Math.max(now - BURST_S, nextFree)
      nextFree = start + bytes / bytesPerSec
      const waitS = nextFree - BURST_S - now
      if (waitS > 0) await new Promise(resolve => setTimeout(resolve, waitS * 1000))
    }
  }
}

/**
 * Write `body` (one buffer or a list of them, sent in order) in throttled slices,
 * respecting backpressure and without copying; ends the response unless told not to.
 */
export async function writeThrottled(
  res: ServerResponse,
  body: Uint8Array | readonly Uint8Array[],
  throttle: Throttle,
  end = true
): Promise<void> {
  for (const part of body instanceof Uint8Array ? [body] : body) {
    for (let at = 0; at < part.length; at += THROTTLE_SLICE_BYTES) {
      if (res.destroyed) return
      const slice = part.subarray(at, Math.min(part.length, at + THROTTLE_SLICE_BYTES))
      await throttle.take(slice.length)
      if (!res.write(slice)) await drainedOrClosed(res)
    }
  }
  if (end) res.end()
}

/** Both listeners go once either fires: a long body must not pile up 'close' listeners. */
async function drainedOrClosed(res: ServerResponse): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.once('drain', done)
    res.once('close', done)
  })
}
