/**
 * hls.js plays real HLS through the SDK (P2PCDN.hlsjs) in real Chromium, behind a real
 * edge and tracker: VOD to the end without stalls, a second viewer taking most segment
 * bytes from the first, seeking, fMP4 and byte-range segments, a live stream whose new
 * segments five pages share, and a page with P2P off.
 */
import type { Page } from 'playwright'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CdnEnv } from '../helpers/cdn-env.js'
import { startLive, type Media } from '../helpers/media.js'
import { fatal, startVideoEnv, untilEnded, viewing, WAIT } from './support/video-page.js'

let media: Media
let env: CdnEnv

beforeAll(async () => {
  ;({ media, env } = await startVideoEnv())
})

afterAll(async () => {
  await env?.close()
})

/**
 * A fresh page (its own IndexedDB) playing `playlist` with hls.js through the SDK, muted,
 * at `rate`; `init` goes to `P2PCDN.create` after the tracker.
 */
async function watch(playlist: string, init: Record<string, unknown> = {}, rate = 1): Promise<Page> {
  const page = await env.openPage()
  await page.addScriptTag({ url: `${env.origin.url}/hls.js` })
  await page.evaluate(
    async ({ src, init, rate }) => {
      const w = globalThis as any
      const { Hls, P2PCDN } = w
      const video = document.createElement('video')
      video.muted = true
      document.body.append(video)
      w.errors = [] as string[]
      video.addEventListener('error', () => w.errors.push(`video ${video.error?.code} ${video.error?.message}`))
      const cdn = P2PCDN.create(init)
      cdn.on('error', (e: any) => w.errors.push(`sdk ${e.code} ${e.message}`))
      const p2p = P2PCDN.hlsjs(cdn, { stream: 'tv' })
      const hls = new Hls({ ...p2p.config })
      p2p.attach(hls)
      hls.on(Hls.Events.ERROR, (_: unknown, d: any) => w.errors.push(`hls ${d.fatal ? 'fatal ' : ''}${d.details}`))
      // What hls.js's ABR reads of each fragment: the loader's stats, as hls.js holds them.
      w.fragStats = [] as Array<{ loaded: number; start: number; first: number; end: number }>
      hls.on(Hls.Events.FRAG_LOADED, (_: unknown, d: any) => {
        const { loaded, loading } = d.frag.stats
        w.fragStats.push({ loaded, start: loading.start, first: loading.first, end: loading.end })
      })
      hls.attachMedia(video)
      hls.loadSource(src)
      Object.assign(w, { cdn, hls, video })
      await new Promise(resolve => hls.once(Hls.Events.MANIFEST_PARSED, resolve))
      await video.play()
      video.playbackRate = rate
    },
    { src: `${env.origin.url}${playlist}`, init: { tracker: env.tracker.url, ...init }, rate }
  )
  return page
}

/** Segment bytes of a stream: every file of it but the playlists. */
function segmentBytes(files: Record<string, { body: Uint8Array | string }>): number {
  return Object.entries(files)
    .filter(([path]) => !path.endsWith('.m3u8'))
    .reduce((n, [, f]) => n + f.body.length, 0)
}

describe('hls.js through the SDK, VOD', { timeout: 60_000 }, () => {
  it('plays MPEG-TS HLS to the end without stalls; a second viewer takes most segment bytes from the first', async () => {
    const first = await watch(media.hlsTs.playlist, { swarm: 'vod-ts' })
    const one = await untilEnded(first)
    expect(fatal(one), one.errors.join('\n')).toEqual([])
    expect(one.ended).toBe(true)
    expect(one.stream.stalls).toBe(0)
    expect(one.stream.segments).toBe(media.hlsTs.segments.length)
    const total = segmentBytes(media.hlsTs.files)
    expect(one.stream.bytes.edge + one.stream.bytes.peer).toBe(total)
    // Every segment left the origin once, to the edge; the page asked the edge.
    for (const s of media.hlsTs.segments) expect(env.origin.requests.get(s.path), s.path).toBe(1)

    const second = await watch(media.hlsTs.playlist, { swarm: 'vod-ts' })
    const two = await untilEnded(second)
    console.log(`second viewer: ${JSON.stringify(two.stream)}`)
    expect(fatal(two), two.errors.join('\n')).toEqual([])
    expect(two.stream.stalls).toBe(0)
    expect(two.stream.bytes.peer).toBeGreaterThan(0.5 * total)
    expect(two.stream.offload).toBeGreaterThan(0.5)
    await first.close()
    await second.close()
  })

  it('seeks: playback jumps ahead and still reaches the end', async () => {
    const page = await watch(media.hlsTs.playlist, { swarm: 'vod-seek' })
    await page.waitForFunction(() => (globalThis as any).video.currentTime > 0.5, undefined, WAIT)
    await page.evaluate(async () => {
      const video = (globalThis as any).video as HTMLVideoElement
      const seeked = new Promise(resolve => video.addEventListener('seeked', resolve, { once: true }))
      video.currentTime = 8
      await seeked
    })
    const v = await untilEnded(page)
    expect(fatal(v), v.errors.join('\n')).toEqual([])
    expect(v.ended).toBe(true)
    expect(v.currentTime).toBeGreaterThan(8)
    await page.close()
  })

  it('plays fMP4 HLS (init segment + fragments) through the SDK', async () => {
    const page = await watch(media.hlsFmp4.playlist, { swarm: 'vod-fmp4' }, 2)
    const v = await untilEnded(page)
    expect(fatal(v), v.errors.join('\n')).toEqual([])
    expect(v.ended).toBe(true)
    // The init segment counts as a segment too.
    expect(v.stream.segments).toBe(media.hlsFmp4.segments.length + 1)
    await page.close()
  })

  it('plays byte-range HLS: each fragment a Range of one file, only its bytes delivered', async () => {
    const page = await watch(media.hlsByteRange.playlist, { swarm: 'vod-range' }, 2)
    const v = await untilEnded(page)
    expect(fatal(v), v.errors.join('\n')).toEqual([])
    expect(v.ended).toBe(true)
    expect(v.stream.segments).toBe(media.hlsByteRange.segments.length)
    const file = media.hlsByteRange.segments[0]!.path
    const size = media.hlsByteRange.files[file]!.body.length
    const { edge, peer } = v.stream.bytes
    // Whole chunks are fetched and shared, but the player got only its ranges: at most a chunk more per fragment.
    expect(edge + peer).toBeGreaterThanOrEqual(size * 0.9)
    expect(edge + peer).toBeLessThanOrEqual(size + media.hlsByteRange.segments.length * 256 * 1024)
    await page.close()
  })

  it("plays two renditions: hls.js measures bandwidth from the SDK's load stats and switches up", async () => {
    const page = await watch(media.hlsAbr.playlist, { swarm: 'vod-abr' })
    const levels = await page.evaluate(() => ((globalThis as any).hls.levels as any[]).map(l => l.height))
    expect(levels).toEqual([180, 240])
    // hls.js's estimate comes from each fragment's loading.start/first/end and loaded bytes.
    await page.waitForFunction(() => (globalThis as any).hls.bandwidthEstimate > 0, undefined, WAIT)
    const estimate = await page.evaluate(() => (globalThis as any).hls.bandwidthEstimate as number)
    expect(Number.isFinite(estimate)).toBe(true)
    const frags: Array<{ loaded: number; start: number; first: number; end: number }> = await page.evaluate(
      () => (globalThis as any).fragStats
    )
    expect(frags.length).toBeGreaterThan(0)
    for (const f of frags) {
      expect(f.loaded).toBeGreaterThan(0)
      expect(f.start).toBeGreaterThan(0)
      expect(f.first).toBeGreaterThanOrEqual(f.start)
      expect(f.end).toBeGreaterThanOrEqual(f.first)
    }
    // A smooth switch (from the next fragment on), as ABR makes one.
    await page.evaluate(() => ((globalThis as any).hls.nextLevel = 1))
    await page.waitForFunction(() => (globalThis as any).video.videoHeight === 240, undefined, WAIT)
    const v = await untilEnded(page)
    expect(fatal(v), v.errors.join('\n')).toEqual([])
    expect(v.ended).toBe(true)
    expect(Object.keys(v.resources).some(u => u.includes('/vod/abr/high/seg-'))).toBe(true)
    await page.close()
  })

  it('a page with P2P off still plays, from the edge only', async () => {
    const page = await watch(media.hlsTs.playlist, { p2p: false }, 2)
    const v = await untilEnded(page)
    expect(fatal(v), v.errors.join('\n')).toEqual([])
    expect(v.ended).toBe(true)
    expect(v.stream.bytes.peer).toBe(0)
    expect(v.stream.bytes.edge).toBeGreaterThan(0)
    await page.close()
  })
})

describe('hls.js through the SDK, live', { timeout: 60_000 }, () => {
  it('five pages play a live stream and share its new segments: most leave the edge for one or two pages, not five', async () => {
    // The origin takes a second per new segment, so several pages want each one while the
    // edge fills it: they must wait for the first page's copy (FETCHING), not each fetch one.
    const slow = Object.fromEntries(Object.entries(media.hlsTs.files).map(([p, f]) => [p, { ...f, delayMs: 1000 }]))
    const live = startLive(env.origin, { ...media.hlsTs, files: slow }, { path: '/live', window: 5, intervalMs: 2000 })
    try {
      const pages: Page[] = []
      for (let i = 0; i < 5; i++) pages.push(await watch(live.playlist, { swarm: 'live' }))
      const joined = live.published()
      // Four segments published after the last page joined, each played by all five.
      await Promise.all(
        pages.map(
          async p =>
            await p.waitForFunction(
              n => {
                const w = globalThis as any
                const newer = Object.keys(w.cdn.stats().resources).filter(u => {
                  const m = /seg-(\d+)\.ts$/.exec(u)
                  return m !== null && Number(m[1]) >= n
                })
                return newer.length >= 4
              },
              joined,
              WAIT
            )
        )
      )
      const views = await Promise.all(pages.map(viewing))
      for (const [i, v] of views.entries()) {
        console.log(`live page ${i + 1}: ${JSON.stringify(v.stream)}`)
        expect(fatal(v), v.errors.join('\n')).toEqual([])
        expect(v.currentTime).toBeGreaterThan(0)
      }
      // For each new segment: how many pages fetched any of it over HTTP.
      const fetchers: number[] = []
      for (let n = joined; n < joined + 4; n++) {
        const url = `${env.origin.url}/live/seg-${n}.ts`
        fetchers.push(views.filter(v => (v.resources[url]?.edge ?? 0) + (v.resources[url]?.origin ?? 0) > 0).length)
      }
      console.log(`pages that fetched each new segment over HTTP: ${fetchers.join(', ')}`)
      const mean = fetchers.reduce((a, b) => a + b, 0) / fetchers.length
      expect(mean).toBeLessThanOrEqual(2)
      expect(views.reduce((n, v) => n + v.stream.bytes.peer, 0)).toBeGreaterThan(0)
      for (const p of pages) await p.close()
    } finally {
      live.stop()
    }
  })
})
