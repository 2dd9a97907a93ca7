/**
 * Service-worker mode in real Chromium: a site whose pages are plain HTML (`<img src>`,
 * `<video src>`, one script tag) gets its images and video through the SDK, streamed with
 * Range, from peers when they have it, and from the network whenever the SDK cannot serve.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { sha256Hex } from '../helpers/cdn-env.js'
import { progressiveMp4 } from '../helpers/media.js'
import {
  HOME,
  IMAGES,
  MOVIE,
  WATCH,
  WORKER,
  bytesOf,
  statsIn,
  startSwSite,
  visitor,
  type SwSite
} from './support/sw-site.js'

let site: SwSite
const WAIT = { timeout: 30_000, polling: 100 }

/** Large enough that the worker is still streaming it when the test acts. */
const BIG = new Uint8Array(12 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24)

beforeAll(async () => {
  site = await startSwSite({
    files: { '/big.bin': { body: BIG, headers: { 'Cache-Control': 'public, max-age=3600' } } }
  })
})

/** In a page: read the rest of `window.download` (a reader and the parts read so far); its size and SHA-256. */
async function readAll(): Promise<{ size: number; sha256: string }> {
  const { reader, parts } = (globalThis as any).download as {
    reader: ReadableStreamDefaultReader<Uint8Array>
    parts: Uint8Array[]
  }
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    parts.push(value)
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    all.set(p, at)
    at += p.length
  }
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', all))
  return { size: all.length, sha256: [...digest].map(b => b.toString(16).padStart(2, '0')).join('') }
}

afterAll(async () => {
  await site.env.close()
})

/** Plays the watch page's video from `at` seconds until `until`; returns what the page shows. */
async function play(page: import('playwright').Page, at: number, until: number): Promise<void> {
  await page.evaluate(async at => {
    const v = document.getElementById('v') as HTMLVideoElement
    if (v.readyState < 1) await new Promise(resolve => v.addEventListener('loadedmetadata', resolve, { once: true }))
    v.currentTime = at
    await v.play()
  }, at)
  await page.waitForFunction(
    until => (document.getElementById('v') as HTMLVideoElement).currentTime >= until,
    until,
    WAIT
  )
}

async function imagesShown(page: import('playwright').Page): Promise<number[]> {
  return await page.evaluate(async () => {
    const imgs = [...document.images]
    await Promise.all(imgs.map(async img => await img.decode().catch(() => {})))
    return imgs.map(img => img.naturalWidth)
  })
}

it('a plain page plays its <video src> and shows its <img src> through the SDK; a second visitor takes most bytes from the first', async () => {
  const a = await visitor(site)
  await a.page.goto(`${site.env.origin.url}${WATCH}`)
  expect(await imagesShown(a.page)).toEqual([640, 640])
  await play(a.page, 0, 3)
  const first = await statsIn(a.page)
  const url = (path: string): string => `${site.env.origin.url}${path}`
  for (const img of IMAGES) expect(bytesOf(first, url(img))).toBeGreaterThan(0)
  expect(bytesOf(first, url(MOVIE))).toBeGreaterThan(0)
  // The watch page's own loads never reached the origin from the browser.
  expect(site.browserRequests(MOVIE)).toHaveLength(0)
  expect(IMAGES.flatMap(path => site.browserRequests(path))).toHaveLength(0)

  // Let the first visitor hold the whole video, then a second visitor watches it.
  await a.page.evaluate(async () => {
    const v = document.getElementById('v') as HTMLVideoElement
    v.playbackRate = 16
    if (!v.ended) await new Promise(resolve => v.addEventListener('ended', resolve, { once: true }))
  })
  const b = await visitor(site)
  await b.page.goto(`${site.env.origin.url}${WATCH}`)
  expect(await imagesShown(b.page)).toEqual([640, 640])
  await play(b.page, 0, 2)
  await b.page.evaluate(async () => {
    const v = document.getElementById('v') as HTMLVideoElement
    v.playbackRate = 16
    if (!v.ended) await new Promise(resolve => v.addEventListener('ended', resolve, { once: true }))
  })
  const second = await statsIn(b.page)
  const movie = second.resources[url(MOVIE)]!
  console.log('second visitor, movie bytes by source', movie)
  expect(movie.peer / bytesOf(second, url(MOVIE))).toBeGreaterThan(0.5)
  expect(site.browserRequests(MOVIE)).toHaveLength(0)
  await a.context.close()
  await b.context.close()
})

/** The SDK's chunk events of the page's instance, recorded from its start (the page's inline script). */
const RECORD_CHUNKS =
  '<script>window.chunks = []; P2PCDN.ready.then(cdn => cdn.on("chunk", e => window.chunks.push(e)))</script>'

it('seeking a <video src> fetches only the chunks around the new position', async () => {
  // 60 s, about 29 chunks: whatever the browser reads ahead before it seeks, most of what lies between is never asked.
  const long = await progressiveMp4({ seconds: 60, kbps: 1000 })
  site.env.origin.files['/long.mp4'] = {
    body: long,
    type: 'video/mp4',
    headers: { 'Cache-Control': 'public, max-age=3600' }
  }
  site.page('/seek.html', `${RECORD_CHUNKS}<video id="v" src="/long.mp4" muted playsinline preload="none"></video>`)
  const { context, page } = await visitor(site)
  await page.goto(`${site.env.origin.url}/seek.html`)
  await page.evaluate(async () => {
    const v = document.getElementById('v') as HTMLVideoElement
    v.currentTime = 45
    await v.play()
  })
  await page.waitForFunction(
    () => (document.getElementById('v') as HTMLVideoElement).currentTime >= 46.5,
    undefined,
    WAIT
  )
  await page.evaluate(() => (document.getElementById('v') as HTMLVideoElement).pause())
  const chunks = (await page.evaluate(() => (globalThis as any).chunks)) as Array<{ url: string; index: number }>
  const indexes = [...new Set(chunks.filter(c => c.url.endsWith('/long.mp4')).map(c => c.index))].sort((x, y) => x - y)
  const count = Math.ceil(long.length / (256 * 1024))
  const at = Math.floor((count * 45) / 60)
  console.log(`seek to 45 s of 60 s: chunks ${indexes.join(',')} of 0..${count - 1}`)
  // The start (where the MP4's index is) and from 45 s on; most of what lies between, never.
  expect(indexes).toContain(0)
  expect(indexes).toContain(at)
  expect(indexes.filter(i => i > 0 && i < at - 1).length).toBeLessThan((at - 2) / 2)
  expect(site.browserRequests('/long.mp4')).toHaveLength(0)
  await context.close()
})

it('a download the SDK page was serving finishes from the network with the right bytes when that page closes', async () => {
  // A page without the SDK, in the same browser: the worker hands its request to the SDK page.
  const { context, page: sdkPage } = await visitor(site)
  const plain = await context.newPage()
  await plain.goto(`${site.env.origin.url}/plain.html`)
  await plain.evaluate(async () => {
    const w = globalThis as any
    const reader = (await fetch('/big.bin')).body!.getReader()
    const first = await reader.read()
    w.download = { reader, parts: [first.value] }
  })
  const before = site.browserRequests('/big.bin').length
  await sdkPage.close()
  const result = await plain.evaluate(readAll)
  expect(result).toEqual({ size: BIG.length, sha256: sha256Hex(BIG) })
  // The rest came from the network, asked from where the SDK page stopped.
  const resumed = site.browserRequests('/big.bin').slice(before)
  expect(resumed).toHaveLength(1)
  expect(String(resumed[0]!.headers.range)).toMatch(/^bytes=[1-9]\d*-\d+$/)
  await context.close()
})

it('with two SDK tabs, closing the one serving a download hands the rest to the other, not to the network', async () => {
  const { context, page: first } = await visitor(site)
  const second = await context.newPage()
  await second.goto(`${site.env.origin.url}${HOME}`)
  const plain = await context.newPage()
  await plain.goto(`${site.env.origin.url}/plain.html`)
  await plain.evaluate(async () => {
    const reader = (await fetch('/big.bin?tabs')).body!.getReader()
    ;(globalThis as any).download = { reader, parts: [(await reader.read()).value] }
  })
  const url = `${site.env.origin.url}/big.bin?tabs`
  const served = async (page: import('playwright').Page): Promise<number> => bytesOf(await statsIn(page), url)
  const [a, b] = [await served(first), await served(second)]
  expect(a > 0 !== b > 0).toBe(true) // one tab serves
  const [serving, other] = a > 0 ? [first, second] : [second, first]
  await serving.close()
  expect(await plain.evaluate(readAll)).toEqual({ size: BIG.length, sha256: sha256Hex(BIG) })
  expect(await served(other)).toBeGreaterThan(0)
  expect(site.browserRequests('/big.bin').filter(r => r.url.endsWith('?tabs'))).toEqual([])
  await context.close()
})

it('never intercepts a navigation, a request with credentials, or what the origin marks private', async () => {
  site.env.origin.files['/private.png'] = {
    body: site.env.origin.files[IMAGES[0]]!.body,
    type: 'image/png',
    headers: { 'Cache-Control': 'private, max-age=60' }
  }
  const { context, page } = await visitor(site)
  await context.addCookies([{ name: 'session', value: 'visitor-secret', url: site.env.origin.url }])
  const origin = site.env.origin.url
  // A navigation to an image.
  await page.goto(`${origin}${IMAGES[0]}?navigated`)
  await page.goto(`${origin}${WATCH}`)
  const statuses = await page.evaluate(async () => {
    const auth = await fetch('/img/b.png?auth', { headers: { Authorization: 'Bearer visitor-token' } })
    const credentialed = await fetch('/img/b.png?credentialed', { credentials: 'include', mode: 'cors' })
    const img = new Image()
    img.src = '/private.png'
    await img.decode()
    return [auth.status, credentialed.status, img.naturalWidth]
  })
  expect(statuses).toEqual([200, 200, 640])
  const seen = (query: string): Array<Record<string, unknown>> =>
    site.env.origin.log.filter(r => r.url.endsWith(query)).map(r => r.headers)
  // Each reached the origin from the browser itself, with what the page sent.
  expect(seen('?navigated').map(h => String(h['user-agent']).includes('Chrome'))).toEqual([true])
  expect(seen('?auth').map(h => h.authorization)).toEqual(['Bearer visitor-token'])
  expect(seen('?credentialed').map(h => h.cookie)).toEqual(['session=visitor-secret'])
  expect(site.browserRequests('/private.png').map(r => r.headers.cookie)).toContain('session=visitor-secret')
  // The SDK never served them, and no request the edge made carried the visitor's cookie.
  const stats = await statsIn(page)
  expect(Object.keys(stats.resources).filter(u => /\?(auth|credentialed|navigated)$/.test(u))).toEqual([])
  expect(bytesOf(stats, `${origin}/private.png`)).toBe(0)
  expect(
    site.env.origin.log.filter(
      r => r.headers.cookie !== undefined && !String(r.headers['user-agent']).includes('Chrome')
    )
  ).toEqual([])
  await context.close()
})

it('an update of the worker keeps an open page working: a download in flight finishes right, the new worker serves what follows', async () => {
  const { context, page } = await visitor(site)
  await page.goto(`${site.env.origin.url}${WATCH}`)
  await play(page, 0, 1)
  await page.evaluate(async () => {
    const w = globalThis as any
    const reader = (await fetch('/big.bin')).body!.getReader()
    w.download = { reader, parts: [(await reader.read()).value] }
  })
  // The operator ships a new worker file (any byte changed makes it a new version).
  site.setWorkerFile(site.workerFile('// version 2'))
  await page.evaluate(async () => {
    const changed = new Promise(resolve =>
      navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true })
    )
    await (await navigator.serviceWorker.getRegistration())!.update()
    await changed
  })
  expect(await page.evaluate(readAll)).toEqual({ size: BIG.length, sha256: sha256Hex(BIG) })
  // The page's video plays on, and a new video and image go through the new worker to the SDK.
  await page.evaluate(async () => {
    const v = document.getElementById('v') as HTMLVideoElement
    v.playbackRate = 16
    if (!v.ended) await new Promise(resolve => v.addEventListener('ended', resolve, { once: true }))
    const next = document.createElement('video')
    next.muted = true
    next.src = '/movie.mp4?after-update'
    document.body.append(next)
    await next.play()
    const img = new Image()
    img.src = '/img/b.png?after-update'
    await img.decode()
  })
  const stats = await statsIn(page)
  expect(await page.evaluate(() => (document.getElementById('v') as HTMLVideoElement).error)).toBeNull()
  expect(bytesOf(stats, `${site.env.origin.url}${MOVIE}?after-update`)).toBeGreaterThan(0)
  expect(bytesOf(stats, `${site.env.origin.url}/img/b.png?after-update`)).toBeGreaterThan(0)
  // The page's own requests all went to a worker (one the update replaced may have finished
  // a stream from the network, as its fallback).
  expect(site.browserRequests(MOVIE).filter(r => !String(r.headers.referer).endsWith(WORKER))).toEqual([])
  await context.close()
})

it('follows the operator\'s rules, and data-service-worker="off" removes the worker', async () => {
  site.setWorkerFile(site.workerFile(`self.P2PCDN_RULES = { exclude: ['${IMAGES[1]}'] }`))
  const { context, page } = await visitor(site)
  await page.goto(`${site.env.origin.url}${WATCH}`)
  expect(await imagesShown(page)).toEqual([640, 640])
  const stats = await statsIn(page)
  expect(bytesOf(stats, `${site.env.origin.url}${IMAGES[0]}`)).toBeGreaterThan(0)
  expect(bytesOf(stats, `${site.env.origin.url}${IMAGES[1]}`)).toBe(0)
  // The operator turns the mode off: the next page load unregisters the worker.
  site.page('/off.html', '<h1>off</h1>', { worker: 'off' })
  await page.goto(`${site.env.origin.url}/off.html`)
  await page.waitForFunction(
    async () => (await navigator.serviceWorker.getRegistrations()).length === 0,
    undefined,
    WAIT
  )
  site.setWorkerFile(site.workerFile())
  await context.close()
})
