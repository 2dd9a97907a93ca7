/**
 * Driving the SDK in a page for the hostile-peer suites: create the instance (with the
 * same event log as `fetchIn`, so `fetchIn` reuses it), fetch with a deadline so a
 * fetch that never ends fails in bounded time, and read the tab's heap after a GC.
 */
import type { Page } from 'playwright'
import type { PageFetch } from '../../../helpers/cdn-env.js'

/** `window.cdn = P2PCDN.create(init)` with every event logged, as `fetchIn` does. */
export async function createCdn(page: Page, init: Record<string, unknown>): Promise<void> {
  await page.evaluate(init => {
    const w = globalThis as any
    w.cdn = w.P2PCDN.create(init)
    w.events = []
    for (const name of ['chunk', 'peer', 'error', 'storage'])
      w.cdn.on(name, (e: unknown) => w.events.push(`${name} ${JSON.stringify(e)}`))
  }, init)
}

export interface TimedFetch extends Omit<PageFetch, 'status'> {
  /** The whole body arrived before `stopMs`. */
  done: boolean
  /** From `cdn.fetch()` to the last byte (or to the stop). */
  ms: number
  error: string | undefined
}

/**
 * Fetch `url` with `window.cdn` and read the body, giving up after `stopMs`: the fetch is
 * aborted then, and the result says how far it got.
 */
export async function timedFetch(page: Page, url: string, stopMs: number): Promise<TimedFetch> {
  return await page.evaluate(
    async ({ url, stopMs }) => {
      const w = globalThis as any
      const abort = new AbortController()
      const started = performance.now()
      const parts: Uint8Array[] = []
      let size = 0
      let done = false
      let error: string | undefined
      const stop = new Promise<'stop'>(resolve => setTimeout(() => resolve('stop'), stopMs))
      try {
        const res = await Promise.race([w.cdn.fetch(url, { signal: abort.signal }) as Promise<Response>, stop])
        if (res === 'stop') throw new Error(`no response within ${stopMs} ms`)
        const reader = res.body!.getReader()
        for (;;) {
          const next = await Promise.race([reader.read(), stop])
          if (next === 'stop') throw new Error(`body incomplete after ${stopMs} ms`)
          if (next.done) break
          parts.push(next.value)
          size += next.value.length
        }
        done = true
      } catch (err) {
        error = err instanceof Error ? err.message : String(err)
        abort.abort()
      }
      const ms = performance.now() - started
      const body = new Uint8Array(size)
      let at = 0
      for (const p of parts) {
        body.set(p, at)
        at += p.length
      }
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', body))
      return {
        done,
        ms,
        error,
        size,
        sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join(''),
        stats: w.cdn.stats(),
        events: [...w.events]
      }
    },
    { url, stopMs }
  )
}

/**
 * Bytes the tab's JavaScript holds after a full GC: the V8 heap plus ArrayBuffer backing
 * stores where Chromium reports them (chunk bitfields and buffers live there, not in the
 * V8 heap proper).
 */
export async function retainedHeap(page: Page): Promise<{ used: number; backing: number; total: number }> {
  const cdp = await page.context().newCDPSession(page)
  try {
    await cdp.send('HeapProfiler.collectGarbage')
    const u = (await cdp.send('Runtime.getHeapUsage')) as {
      usedSize: number
      embedderHeapUsedSize?: number
      backingStorageSize?: number
    }
    const backing = u.backingStorageSize ?? 0
    return { used: u.usedSize, backing, total: u.usedSize + backing }
  } finally {
    await cdp.detach().catch(() => {})
  }
}

/** Non-chunk events, for a failure message. */
export function explain(label: string, events: string[]): string {
  return `${label}:\n${events
    .filter(e => !e.startsWith('chunk'))
    .slice(-40)
    .join('\n')}`
}
