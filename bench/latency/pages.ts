import type { Browser, BrowserContext, Page } from 'playwright'

/** Milliseconds since the timed window opened, for one HTTP request the page made. */
export interface RequestSpan {
  /** Path (and query) only: which edge endpoint it was is what matters. */
  path: string
  start: number
  end: number
}

/** One timed load in a page, every time in ms from the start of the timed window. */
export interface Timed {
  /** Until the last body byte was read. */
  totalMs: number
  /** Until `fetch` / `cdn.fetch` resolved with a Response (headers; for the SDK: manifest and peer wait done). */
  responseMs: number
  firstByteMs: number
  size: number
  sha256: string
}

export interface SdkTimed extends Timed {
  /** When `cdn.ready` resolved; undefined when the instance was created before the window. */
  readyMs: number | undefined
  /** Each verified chunk: when it was delivered, its source and how long it took from asking. */
  chunks: Array<{ at: number; index: number; source: string; bytes: number; ms: number }>
  /** The SDK's own HTTP requests in the window (ping, manifest, chunk ranges). */
  requests: RequestSpan[]
  /** The tracker socket's traffic in the window. */
  socket: SocketEvent[]
  bytes: Record<'cache' | 'peer' | 'edge' | 'origin', number>
  peers: number
  errors: string[]
}

/** A message on the SDK's tracker socket, as the page's WebSocket saw it. */
export interface SocketEvent {
  at: number
  /** `open`, `out announce started offers=5`, `in announce reply`, `in p2pcdn:edges`, ... */
  what: string
}

/**
 * Runs in the page before any script: wraps `WebSocket` to log when the tracker socket
 * opens and what crosses it. The SDK's own timings are not public, but its wire traffic
 * is the browser's, so this shows where `ready` and the peer wait spend their time
 * without touching the SDK.
 */
function watchTrackerSocket(): void {
  const w = window as any
  const log: Array<{ at: number; what: string }> = (w.wsLog = [])
  const describe = (dir: string, data: unknown): string | undefined => {
    if (typeof data !== 'string') return undefined
    try {
      const m = JSON.parse(data)
      const parts = [dir, String(m.action)]
      if (typeof m.event === 'string') parts.push(m.event)
      if (Array.isArray(m.offers)) parts.push(`offers=${m.offers.length as number}`)
      if (m.offer !== undefined) parts.push('offer')
      if (m.answer !== undefined) parts.push('answer')
      if (m.interval !== undefined) parts.push('reply')
      return parts.join(' ')
    } catch {
      return undefined
    }
  }
  const Native: typeof WebSocket = w.WebSocket
  w.WebSocket = class extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      this.addEventListener('open', () => log.push({ at: performance.now(), what: 'open' }))
      this.addEventListener('message', e => {
        const what = describe('in', e.data)
        if (what !== undefined) log.push({ at: performance.now(), what })
      })
    }

    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      const what = describe('out', data)
      if (what !== undefined) log.push({ at: performance.now(), what })
      super.send(data)
    }
  }
}

/**
 * A page in its own browser context (its own IndexedDB and HTTP cache) at the origin,
 * with the SDK script loaded from the edge as a site would load it. Plain-fetch pages
 * load it too, so both sides start with the same warm connection to the edge.
 */
export async function openPage(
  browser: Browser,
  pageUrl: string,
  sdkUrl: string
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext()
  // As source text: tsx wraps named functions in `__name(...)`, which the page lacks.
  await context.addInitScript({ content: `(() => { const __name = f => f; (${watchTrackerSocket.toString()})() })()` })
  const page = await context.newPage()
  await page.goto(pageUrl)
  await page.addScriptTag({ url: sdkUrl })
  return { context, page }
}

/**
 * Time `cdn.fetch(url)` to the last body byte. With `init` the window opens just before
 * `P2PCDN.create(init)` (a first visitor: the fetch is issued right after create);
 * without, it uses the page's `window.cdn` made earlier by `createIn`.
 */
export async function sdkFetchIn(page: Page, url: string, init?: Record<string, unknown>): Promise<SdkTimed> {
  return await page.evaluate(
    async ({ url, init }) => {
      const w = window as any
      const t0 = performance.now()
      const absT0 = performance.timeOrigin + t0
      let readyMs: number | undefined
      if (init !== undefined) {
        w.cdn = w.P2PCDN.create(init)
        void w.cdn.ready.then(() => {
          readyMs = performance.now() - t0
        })
      }
      const cdn = w.cdn
      const chunks: Array<{ at: number; index: number; source: string; bytes: number; ms: number }> = []
      const errors: string[] = []
      const offChunk = cdn.on('chunk', (e: any) =>
        chunks.push({ at: performance.now() - t0, index: e.index, source: e.source, bytes: e.bytes, ms: e.ms })
      )
      const offError = cdn.on('error', (e: any) => errors.push(`${String(e.code)} ${String(e.message)}`))
      const res: Response = await cdn.fetch(url)
      const responseMs = performance.now() - t0
      const reader = res.body!.getReader()
      const parts: Uint8Array[] = []
      let firstByteMs = -1
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        if (firstByteMs < 0) firstByteMs = performance.now() - t0
        parts.push(value)
      }
      const totalMs = performance.now() - t0
      if (typeof offChunk === 'function') offChunk()
      if (typeof offError === 'function') offError()
      // Hashing happens after the window closes: it is the check, not the load.
      const all = new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer())
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all))
      const requests = (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .filter(e => performance.timeOrigin + e.startTime >= absT0 - 1)
        .map(e => {
          const u = new URL(e.name)
          return { path: u.pathname + u.search, start: e.startTime - t0, end: e.responseEnd - t0 }
        })
      const socket = (w.wsLog as Array<{ at: number; what: string }>)
        .filter(e => e.at >= t0)
        .map(e => ({ at: e.at - t0, what: e.what }))
      const stats = cdn.stats()
      return {
        socket,
        totalMs,
        responseMs,
        firstByteMs,
        readyMs,
        size: all.length,
        sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join(''),
        chunks,
        requests,
        bytes: stats.bytes,
        peers: stats.peers.length,
        errors
      }
    },
    { url, init }
  )
}

/** Time a plain `fetch(url)` to the last body byte, in the page. */
export async function plainFetchIn(page: Page, url: string): Promise<Timed> {
  return await page.evaluate(async url => {
    const t0 = performance.now()
    // no-store: neither side may lean on an HTTP cache entry the other one left in the page.
    const res = await fetch(url, { cache: 'no-store' })
    const responseMs = performance.now() - t0
    const reader = res.body!.getReader()
    const parts: Uint8Array[] = []
    let firstByteMs = -1
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (firstByteMs < 0) firstByteMs = performance.now() - t0
      parts.push(value)
    }
    const totalMs = performance.now() - t0
    const all = new Uint8Array(await new Blob(parts as BlobPart[]).arrayBuffer())
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all))
    return {
      totalMs,
      responseMs,
      firstByteMs,
      size: all.length,
      sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join('')
    }
  }, url)
}

/** Create `window.cdn` in the page (outside any timed window) and wait for `ready`. */
export async function createIn(page: Page, init: Record<string, unknown>): Promise<void> {
  await page.evaluate(async init => {
    const w = window as any
    w.cdn = w.P2PCDN.create(init)
    await w.cdn.ready
  }, init)
}

/**
 * Poll the page's `cdn.stats()` until `done(stats)` holds; throws after `deadlineMs`
 * with the last stats, so a swarm that never forms fails the run instead of hanging it.
 */
export async function waitForStats(
  page: Page,
  what: string,
  deadlineMs: number,
  done: (stats: any) => boolean
): Promise<void> {
  const until = Date.now() + deadlineMs
  let last: unknown
  while (Date.now() < until) {
    last = await page.evaluate(() => (window as any).cdn.stats())
    if (done(last)) return
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  throw new Error(`${what} not reached within ${deadlineMs} ms; last stats ${JSON.stringify(last).slice(0, 400)}`)
}
