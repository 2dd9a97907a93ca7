/**
 * Shaka Player plays real DASH and HLS through the SDK's scheme plugin (P2PCDN.shaka) in
 * real Chromium, behind a real edge and tracker: segments come through the SDK (a second
 * viewer takes most from the first), manifests from the edge, and a live HLS stream plays.
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

/** A fresh page playing `src` with Shaka through the SDK, muted, at `rate`. */
async function watch(src: string, init: Record<string, unknown> = {}, rate = 1, options = {}): Promise<Page> {
  const page = await env.openPage()
  await page.addScriptTag({ url: `${env.origin.url}/shaka.js` })
  await page.evaluate(
    async ({ src, init, rate, options }) => {
      const w = globalThis as any
      const { shaka, P2PCDN } = w
      shaka.polyfill.installAll()
      const video = document.createElement('video')
      video.muted = true
      document.body.append(video)
      w.errors = [] as string[]
      video.addEventListener('error', () => w.errors.push(`video ${video.error?.code} ${video.error?.message}`))
      const cdn = P2PCDN.create(init)
      cdn.on('error', (e: any) => w.errors.push(`sdk ${e.code} ${e.message}`))
      const p2p = P2PCDN.shaka(cdn, shaka, { stream: 'tv', ...options })
      p2p.install()
      const player = new shaka.Player()
      player.addEventListener('error', (e: any) => w.errors.push(`shaka ${e.detail?.code} ${e.detail?.message ?? ''}`))
      await player.attach(video)
      p2p.attach(player)
      Object.assign(w, { cdn, player, video })
      await player.load(src)
      await video.play()
      video.playbackRate = rate
    },
    { src: `${env.origin.url}${src}`, init: { tracker: env.tracker.url, ...init }, rate, options }
  )
  return page
}

describe('Shaka Player through the SDK', { timeout: 60_000 }, () => {
  it('plays DASH to the end; a second viewer takes most segment bytes from the first; the MPD comes from the edge', async () => {
    const first = await watch(media.dash.manifest, { swarm: 'dash' }, 2)
    const one = await untilEnded(first)
    expect(fatal(one), one.errors.join('\n')).toEqual([])
    expect(one.ended).toBe(true)
    expect(one.stream?.segments).toBeGreaterThan(4)
    // The MPD went through the edge (the origin saw the edge's one request) and is not a stream byte.
    expect(env.origin.requests.get(media.dash.manifest)).toBe(1)
    expect(one.resources[`${env.origin.url}${media.dash.manifest}`]?.edge).toBeGreaterThan(0)

    const second = await watch(media.dash.manifest, { swarm: 'dash' })
    const two = await untilEnded(second)
    console.log(`second DASH viewer: ${JSON.stringify(two.stream)}`)
    expect(fatal(two), two.errors.join('\n')).toEqual([])
    const { peer, edge } = two.stream.bytes
    expect(peer).toBeGreaterThan(0.5 * (peer + edge))
    await first.close()
    await second.close()
  })

  it('plays HLS (fMP4) to the end through the SDK', async () => {
    const page = await watch(media.hlsFmp4.playlist, { swarm: 'shaka-hls' }, 2)
    const v = await untilEnded(page)
    expect(fatal(v), v.errors.join('\n')).toEqual([])
    expect(v.ended).toBe(true)
    expect(v.stream?.segments).toBeGreaterThanOrEqual(media.hlsFmp4.segments.length)
    await page.close()
  })

  it('plays a live HLS stream: playback advances as segments are published, and played ones leave storage', async () => {
    const live = startLive(env.origin, media.hlsTs, { path: '/shaka-live', window: 5, intervalMs: 2000 })
    try {
      const page = await watch(live.playlist, { swarm: 'shaka-live' }, 1, { liveBackBufferSeconds: 2 })
      const start = await page.evaluate(() => (globalThis as any).video.currentTime as number)
      await page.waitForFunction(t => (globalThis as any).video.currentTime > t + 8, start, WAIT)
      const v = await viewing(page)
      expect(fatal(v), v.errors.join('\n')).toEqual([])
      expect(v.stream.segments).toBeGreaterThanOrEqual(3)
      // Segments that ended over 2 s behind the playhead were dropped: after 8 s of playing,
      // storage holds at least two segments less than was fetched (one write may be in flight).
      const segment = Math.max(...media.hlsTs.segments.map(x => media.hlsTs.files[x.path]!.body.length))
      await page.waitForFunction(
        segment => {
          const s = (globalThis as any).cdn.stats()
          return s.cache.bytes <= s.streams.tv.bytes.edge + s.streams.tv.bytes.peer - 2 * segment
        },
        segment,
        WAIT
      )
      await page.close()
    } finally {
      live.stop()
    }
  })
})
