/**
 * Service-worker mode in real Chromium: a site whose pages are plain HTML (`<img src>`,
 * `<video src>`, one script tag) gets its images and video through the SDK, streamed with
 * Range, from peers when they have it, and from the network whenever the SDK cannot serve.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { IMAGES, MOVIE, WATCH, bytesOf, statsIn, startSwSite, visitor, type SwSite } from './support/sw-site.js'

let site: SwSite
const WAIT = { timeout: 30_000, polling: 100 }

beforeAll(async () => {
  site = await startSwSite()
})

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
