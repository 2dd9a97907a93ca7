/**
 * A whole p2pcdn on port 0 for browser tests: an origin, a tracker, `edges` edges, and
 * Chromium. Pages open at the origin (a secure context on 127.0.0.1) with the SDK
 * loaded from the first edge, as a site would load it.
 */
import { createHash } from 'node:crypto'
import type { Browser, BrowserContext, Page } from 'playwright'
import { createEdge, type Edge, type EdgeInit } from '../../edge/src/index.js'
import { createTracker, type Tracker, type TrackerInit } from '../../tracker/src/index.js'
import { launchChromium } from './chromium.js'
import { startOrigin, type OriginFile, type TestOrigin } from './origin.js'

export interface CdnEnv {
  origin: TestOrigin
  tracker: Tracker
  edges: Edge[]
  browser: Browser
  /** A page in a fresh browser context (its own IndexedDB) with the SDK loaded. */
  openPage: (options?: {
    init?: Array<[fn: (arg: any) => void, arg?: unknown]>
    context?: BrowserContext
  }) => Promise<Page>
  close: () => Promise<void>
}

export const BLANK = '/blank.html'

/** `edgeInit` adds options to every edge (e.g. `manifestKey`), `trackerInit` to the tracker. */
export async function startCdnEnv(
  files: Record<string, OriginFile>,
  {
    edges: edgeCount = 1,
    edgeInit = {},
    trackerInit = {}
  }: { edges?: number; edgeInit?: Partial<EdgeInit>; trackerInit?: TrackerInit } = {}
): Promise<CdnEnv> {
  const origin = await startOrigin({
    ...files,
    [BLANK]: { body: '<!doctype html><title>p2pcdn test</title>', type: 'text/html' }
  })
  const tracker = createTracker({ port: 0, edgeToken: 'secret', ...trackerInit })
  await tracker.start()
  const edges: Edge[] = []
  for (let i = 0; i < edgeCount; i++) {
    const edge = createEdge({
      origin: origin.url,
      port: 0,
      region: 'eu',
      tracker: tracker.url,
      edgeToken: 'secret',
      ...edgeInit
    })
    await edge.start()
    edges.push(edge)
  }
  const browser = await launchChromium()
  const contexts: BrowserContext[] = []
  const sdkUrl = `${edges[0]!.url}/p2pcdn.js`
  return {
    origin,
    tracker,
    edges,
    browser,
    async openPage({ init = [], context } = {}) {
      let ctx = context
      if (ctx === undefined) {
        ctx = await browser.newContext()
        contexts.push(ctx)
        for (const [fn, arg] of init) await ctx.addInitScript(fn, arg)
      }
      const page = await ctx.newPage()
      await page.goto(`${origin.url}${BLANK}`)
      await page.addScriptTag({ url: sdkUrl })
      return page
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {})
      await browser?.close()
      for (const e of edges) await e.stop().catch(() => {})
      await tracker?.stop()
      await origin?.close()
    }
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** What `fetchIn` returns from the page. */
export interface PageFetch {
  sha256: string
  size: number
  status: number
  stats: {
    bytes: Record<'cache' | 'peer' | 'edge' | 'origin', number>
    uploaded: number
    peers: Array<{ id: string }>
    edge: string | undefined
    storage: string
    cache: { bytes: number; limitBytes: number }
    resources: Record<string, Record<'cache' | 'peer' | 'edge' | 'origin', number>>
  }
  /** SDK events as `name json`, for assertions and for printing when one fails. */
  events: string[]
}

/**
 * In `page`: create `window.cdn` with `init` unless it exists, fetch `url` (with
 * `headers`), hash the body there, return stats and every event so far.
 */
export async function fetchIn(
  page: Page,
  url: string,
  init: Record<string, unknown> = {},
  headers: Record<string, string> = {}
): Promise<PageFetch> {
  await createIn(page, init)
  return await page.evaluate(
    async ({ url, headers }) => {
      const w = globalThis as any
      const res: Response = await w.cdn.fetch(url, { headers })
      const bytes = new Uint8Array(await res.arrayBuffer())
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
      return {
        sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join(''),
        size: bytes.length,
        status: res.status,
        stats: w.cdn.stats(),
        events: [...w.events]
      }
    },
    { url, headers }
  )
}

/** In `page`: create `window.cdn` with `init` unless it exists, recording its events for `fetchIn`. */
export async function createIn(page: Page, init: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(init => {
    const w = globalThis as any
    if (w.cdn !== undefined) return
    w.cdn = w.P2PCDN.create(init)
    w.events = []
    for (const name of ['chunk', 'peer', 'error', 'storage'])
      w.cdn.on(name, (e: unknown) => w.events.push(`${name} ${JSON.stringify(e)}`))
  }, init)
}

/** Resolves once `page`'s cdn (made by `createIn`) has a peer connected. */
export async function peerConnectedIn(page: Page): Promise<void> {
  await page.waitForFunction(() =>
    ((globalThis as any).events as string[]).some(e => e.startsWith('peer ') && e.includes('"connected":true'))
  )
}

/**
 * Parsed events named `name` recorded in `page` (by `createIn`), once there is at least one
 * whose JSON contains `including`: for events that may come after the fetch that caused them.
 */
export async function eventsWhenIn(page: Page, name: string, including = '', timeout = 10_000): Promise<any[]> {
  const wanted = `${name} `
  await page.waitForFunction(
    ([wanted, including]) =>
      ((globalThis as any).events as string[]).some(e => e.startsWith(wanted!) && e.includes(including!)),
    [wanted, including],
    { timeout }
  )
  const events = await page.evaluate(() => (globalThis as any).events as string[])
  return events.filter(e => e.startsWith(wanted)).map(e => JSON.parse(e.slice(wanted.length)))
}

/** Parsed events of one name from `PageFetch.events`. */
export function eventsOf(result: PageFetch, name: string): any[] {
  return result.events.filter(e => e.startsWith(`${name} `)).map(e => JSON.parse(e.slice(name.length + 1)))
}
