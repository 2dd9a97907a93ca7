/**
 * The video fixtures play in real Chromium with the real players over plain HTTP (no
 * SDK), where the SDK's own tests (video-hls, video-shaka) do not already show it: the
 * codecs decode, live HLS crosses the source's wrap (a discontinuity) with hls.js (fMP4)
 * and Shaka (MPEG-TS), and Shaka plays the two-rendition master playlist. What is checked
 * is what a viewer sees: a picture of the right size, time advancing, no errors.
 */
import type { Browser, Page } from 'playwright'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { launchChromium } from '../helpers/chromium.js'
import { generateMedia, playerFiles, startLive, type Media } from '../helpers/media.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'

const BLANK = '/blank.html'
/** VOD plays at this rate so a 12 s stream ends in about 6 s; decoding and buffering are the same. */
const RATE = 2
const WAIT = { timeout: 25_000, polling: 100 }

let media: Media
let origin: TestOrigin
let browser: Browser

beforeAll(async () => {
  media = await generateMedia()
  origin = await startOrigin({
    ...media.files,
    ...(await playerFiles()),
    [BLANK]: { body: '<!doctype html><title>video</title>', type: 'text/html' }
  })
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await origin?.close()
})

/** What the page reports about its `<video>` and its player. */
interface Playback {
  currentTime: number
  duration: number
  ended: boolean
  endedEvents: number
  width: number
  height: number
  frames: number
  errors: string[]
}

async function openPage(player: 'hls' | 'shaka'): Promise<Page> {
  const page = await (await browser.newContext()).newPage()
  await page.goto(`${origin.url}${BLANK}`)
  await page.addScriptTag({ url: `${origin.url}/${player === 'hls' ? 'hls.js' : 'shaka.js'}` })
  return page
}

/** Starts muted playback of `src` with hls.js in `page`; every hls.js and `<video>` error is recorded. */
async function playWithHls(page: Page, src: string, rate = 1): Promise<void> {
  await page.evaluate(
    async ({ src, rate }) => {
      const w = globalThis as any
      const Hls = w.Hls
      if (!Hls.isSupported()) throw new Error('hls.js: MSE not supported')
      const video = document.createElement('video')
      video.muted = true
      document.body.append(video)
      w.errors = [] as string[]
      w.endedEvents = 0
      video.addEventListener('ended', () => w.endedEvents++)
      video.addEventListener('error', () => w.errors.push(`video ${video.error?.code} ${video.error?.message}`))
      const hls = new Hls()
      hls.on(Hls.Events.ERROR, (_: unknown, data: any) =>
        w.errors.push(`hls ${data.fatal ? 'fatal ' : ''}${data.type} ${data.details}`)
      )
      hls.attachMedia(video)
      hls.loadSource(src)
      await new Promise(resolve => hls.once(Hls.Events.MANIFEST_PARSED, resolve))
      w.video = video
      w.hls = hls
      await video.play()
      video.playbackRate = rate
    },
    { src, rate }
  )
}

/** Starts muted playback of `src` with Shaka Player in `page`, recording its errors. */
async function playWithShaka(page: Page, src: string, rate = 1): Promise<void> {
  await page.evaluate(
    async ({ src, rate }) => {
      const w = globalThis as any
      const shaka = w.shaka
      shaka.polyfill.installAll()
      if (!shaka.Player.isBrowserSupported()) throw new Error('Shaka: browser not supported')
      const video = document.createElement('video')
      video.muted = true
      document.body.append(video)
      w.errors = [] as string[]
      w.endedEvents = 0
      video.addEventListener('ended', () => w.endedEvents++)
      video.addEventListener('error', () => w.errors.push(`video ${video.error?.code} ${video.error?.message}`))
      const player = new shaka.Player()
      player.addEventListener('error', (e: any) => w.errors.push(`shaka ${e.detail?.code} ${e.detail?.message ?? ''}`))
      await player.attach(video)
      await player.load(src)
      w.video = video
      w.player = player
      await video.play()
      video.playbackRate = rate
    },
    { src, rate }
  )
}

async function playback(page: Page): Promise<Playback> {
  return await page.evaluate(() => {
    const w = globalThis as any
    const v = w.video as HTMLVideoElement
    return {
      currentTime: v.currentTime,
      duration: v.duration,
      ended: v.ended,
      endedEvents: w.endedEvents as number,
      width: v.videoWidth,
      height: v.videoHeight,
      frames: v.getVideoPlaybackQuality().totalVideoFrames,
      errors: [...(w.errors as string[])]
    }
  })
}

/** Waits for the `ended` event (or a recorded error, to fail fast with it). */
async function untilEnded(page: Page): Promise<Playback> {
  await page.waitForFunction(
    () => {
      const w = globalThis as any
      return (
        w.endedEvents > 0 ||
        (w.errors as string[]).some(e => e.includes('fatal') || e.startsWith('video') || e.startsWith('shaka'))
      )
    },
    undefined,
    WAIT
  )
  return await playback(page)
}

/** Watched to the end without errors, in one of the `sizes` (where ABR may pick either). */
function expectWatchedToEnd(p: Playback, ...sizes: Array<{ width: number; height: number }>): void {
  expect(p.errors).toEqual([])
  expect(p.endedEvents).toBe(1)
  expect(p.ended).toBe(true)
  expect(p.duration).toBeCloseTo(12, 0)
  expect(p.currentTime).toBeGreaterThan(11.5)
  expect(sizes).toContainEqual({ width: p.width, height: p.height })
  // About 300 frames at 25 fps; at 2x Chromium may drop some, yet it decoded most.
  expect(p.frames).toBeGreaterThan(150)
}

const LOW = { width: 320, height: 180 }
const HIGH = { width: 426, height: 240 }

it('the browser decodes H.264 and AAC in MSE', async () => {
  const page = await openPage('hls')
  const supported = await page.evaluate(() =>
    ['video/mp4; codecs="avc1.42c01e,mp4a.40.2"', 'video/mp4; codecs="avc1.4d401e,mp4a.40.2"'].map(t =>
      MediaSource.isTypeSupported(t)
    )
  )
  expect(supported).toEqual([true, true])
  await page.context().close()
})

it.each([
  ['hls.js', 'fMP4', () => media.hlsFmp4, '/live-fmp4'],
  ['Shaka Player', 'MPEG-TS', () => media.hlsTs, '/live-shaka-ts']
] as const)('%s plays live HLS (%s) while new segments are published', async (player, _, source, path) => {
  const live = startLive(origin, source(), { path })
  const stream = source()
  const ext = stream.segments[0]!.path.slice(stream.segments[0]!.path.lastIndexOf('.'))
  try {
    const page = await openPage(player === 'hls.js' ? 'hls' : 'shaka')
    if (player === 'hls.js') await playWithHls(page, `${origin.url}${live.playlist}`)
    else await playWithShaka(page, `${origin.url}${live.playlist}`)
    expect(await isLive(page)).toBe(true)
    const start = await playback(page)
    const published = live.published()
    // Players start at least 2 s into the 10 s window, so 10 s of playing crosses the wrap
    // to the source's start (seg-6, after a discontinuity) on segments published meanwhile.
    await page.waitForFunction(
      ({ t }) => (globalThis as any).video.currentTime > t + 10 || (globalThis as any).errors.length > 0,
      { t: start.currentTime },
      WAIT
    )
    const later = await playback(page)
    expect(later.errors).toEqual([])
    expect(later.currentTime).toBeGreaterThan(start.currentTime + 10)
    expect(later.frames).toBeGreaterThan(start.frames + 200)
    expect(later.width).toBe(320)
    expect(live.published()).toBeGreaterThan(published + 3)
    for (const n of [published, stream.segments.length, stream.segments.length + 1])
      expect(origin.requests.get(`${path}/seg-${n}${ext}`), `seg-${n}`).toBeGreaterThan(0)
    await page.context().close()
  } finally {
    live.stop()
  }
})

/** Whether the page's player treats its stream as live (hls.js keeps a finite MediaSource duration for it). */
async function isLive(page: Page): Promise<boolean> {
  return await page.evaluate(() => {
    const w = globalThis as any
    return w.hls !== undefined ? w.hls.latestLevelDetails.live === true : w.player.isLive() === true
  })
}

it.each([['HLS MPEG-TS (master playlist, two renditions)', () => media.hlsAbr.playlist, [LOW, HIGH]]])(
  'Shaka Player plays %s to the end',
  async (_, src, sizes) => {
    const page = await openPage('shaka')
    await playWithShaka(page, `${origin.url}${src()}`, RATE)
    expectWatchedToEnd(await untilEnded(page), ...sizes)
    await page.context().close()
  }
)
