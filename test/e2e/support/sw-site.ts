/**
 * A site in service-worker mode, as an operator sets it up: the origin serves plain
 * HTML (`<img src>`, `<video src>`, one script tag with `data-service-worker`) and the
 * one-line worker file that imports the edge's copy. Used by the tests and bench:latency.
 */
import type { BrowserContext, Page } from 'playwright'
import { startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import { pngImage, progressiveMp4 } from '../../helpers/media.js'
import type { OriginFile } from '../../helpers/origin.js'

export const MOVIE = '/movie.mp4'
export const IMAGES = ['/img/a.png', '/img/b.png'] as const
/** Pages: the home page registers the worker; the watch page is the one a visitor then opens. */
export const HOME = '/index.html'
export const WATCH = '/watch.html'
export const WORKER = '/p2pcdn-sw.js'

const cacheable = { 'Cache-Control': 'public, max-age=3600' }

export interface SwSite {
  env: CdnEnv
  movie: Uint8Array
  /** The script tag a page of this site carries (`data-service-worker` unless `worker` is false). */
  scriptTag: (options?: { worker?: string | false; extra?: string }) => string
  /** Serve `html` (a body) at `path` on the origin, with the script tag first. */
  page: (path: string, body: string, options?: { worker?: string | false; extra?: string }) => void
  /** Replace the site's worker file (the operator's one line), e.g. to set rules or ship an update. */
  setWorkerFile: (body: string) => void
  /** The operator's worker file: `importScripts` of the edge's copy, after `prelude`. */
  workerFile: (prelude?: string) => string
  /** Requests the browser itself sent to the origin (not the edge's), by path. */
  browserRequests: (path: string) => Array<{ url: string; headers: Record<string, unknown> }>
}

export async function startSwSite({
  seconds = 20,
  kbps = 1000,
  files = {}
}: { seconds?: number; kbps?: number; files?: Record<string, OriginFile> } = {}): Promise<SwSite> {
  const [movie, a, b] = await Promise.all([
    progressiveMp4({ seconds, kbps }),
    pngImage(640, 480, 0),
    pngImage(640, 480, 7)
  ])
  const env = await startCdnEnv({
    [MOVIE]: { body: movie, type: 'video/mp4', headers: cacheable },
    [IMAGES[0]]: { body: a, type: 'image/png', headers: cacheable },
    [IMAGES[1]]: { body: b, type: 'image/png', headers: cacheable },
    ...files
  })
  const edge = env.edges[0]!.url
  const workerFile = (prelude = ''): string => `${prelude}\nimportScripts(${JSON.stringify(`${edge}${WORKER}`)})\n`
  const setWorkerFile = (body: string): void => {
    env.origin.files[WORKER] = { body, type: 'text/javascript', headers: { 'Cache-Control': 'no-cache' } }
  }
  setWorkerFile(workerFile())
  const scriptTag = ({ worker = WORKER, extra = '' }: { worker?: string | false; extra?: string } = {}): string =>
    `<script src="${edge}/p2pcdn.js" data-tracker="${env.tracker.url}" data-edges="${edge}"` +
    `${worker === false ? '' : ` data-service-worker="${worker}"`} ${extra}></script>`
  const page = (path: string, body: string, options: { worker?: string | false; extra?: string } = {}): void => {
    env.origin.files[path] = {
      body: `<!doctype html><meta charset="utf-8"><title>p2pcdn site</title>${scriptTag(options)}\n${body}`,
      type: 'text/html',
      headers: { 'Cache-Control': 'no-cache' }
    }
  }
  page(HOME, '<h1>home</h1>')
  page(
    WATCH,
    IMAGES.map((src, i) => `<img id="img${i}" src="${src}" width="320">`).join('') +
      `<video id="v" src="${MOVIE}" muted playsinline preload="auto"></video>`
  )
  const browserRequests = (path: string): Array<{ url: string; headers: Record<string, unknown> }> =>
    env.origin.log.filter(r => r.url.split('?')[0] === path && String(r.headers['user-agent']).includes('Chrome'))
  return { env, movie, scriptTag, page, setWorkerFile, workerFile, browserRequests }
}

/** Resolves once the page is controlled by a service worker. */
export async function controlled(page: Page): Promise<void> {
  await page.evaluate(async () => {
    // Type-checked without the DOM too (the adversarial suites import this file).
    const sw = (globalThis as any).navigator.serviceWorker
    await sw.ready
    if (sw.controller === null)
      await new Promise(resolve => sw.addEventListener('controllerchange', resolve, { once: true }))
  })
}

/** A visitor: a fresh browser context that opened the home page (which installed the worker). */
export async function visitor(site: SwSite): Promise<{ context: BrowserContext; page: Page }> {
  const context = await site.env.browser.newContext()
  const page = await context.newPage()
  await page.goto(`${site.env.origin.url}${HOME}`)
  await controlled(page)
  return { context, page }
}

/** The script tag's SDK instance's stats, in `page`. */
export async function statsIn(page: Page): Promise<{
  bytes: Record<'cache' | 'peer' | 'edge' | 'origin', number>
  resources: Record<string, Record<'cache' | 'peer' | 'edge' | 'origin', number>>
}> {
  return await page.evaluate(async () => (await (globalThis as any).P2PCDN.ready).stats())
}

/** Bytes of `path` the page's SDK delivered, from every source. */
export function bytesOf(stats: Awaited<ReturnType<typeof statsIn>>, url: string): number {
  const r = stats.resources[url]
  return r === undefined ? 0 : r.cache + r.peer + r.edge + r.origin
}
