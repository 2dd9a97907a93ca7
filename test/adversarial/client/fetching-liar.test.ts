/**
 * A peer that lies with FETCHING: it holds nothing, and claims to be fetching every chunk
 * of every segment of a stream over and over, so that a page waits for a HAVE that never
 * comes. What it may cost the victim is bounded by each segment's deadline: a segment
 * goes to HTTP once it is within the urgent window, so playback reaches the end without
 * a stall, every segment byte from the edge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import { generateMedia, playerFiles, type Media } from '../../helpers/media.js'
import { resourceAt, type HostileResource } from '../support/hostile-peer.js'
import { record } from '../support/measure.js'
import { pageWithPeer } from './support/scenario.js'

let env: CdnEnv
let media: Media
let resources: HostileResource[]

beforeAll(async () => {
  media = await generateMedia()
  env = await startCdnEnv({ ...media.files, ...(await playerFiles()) })
  // The liar learns every segment's manifest as anyone can: from the edge.
  resources = await Promise.all(
    media.hlsTs.segments.map(async s => await resourceAt(env.edges[0]!.url, `${env.origin.url}${s.path}`))
  )
})

afterAll(async () => {
  await env?.close()
})

describe('a peer claiming FETCHING for every segment and never delivering', () => {
  it('holds each segment only until its urgent window: the video plays to the end without a stall', async () => {
    const joined = await pageWithPeer(env, 'fetching-liar', 'liar', resources)
    try {
      const page = joined.page
      await page.addScriptTag({ url: `${env.origin.url}/hls.js` })
      const result = await page.evaluate(
        async ({ src }) => {
          const w = globalThis as any
          const { Hls, P2PCDN } = w
          // This file is type-checked without the DOM: the page's globals are reached through `w`.
          const video = w.document.createElement('video')
          video.muted = true
          w.document.body.append(video)
          const errors: string[] = []
          const p2p = P2PCDN.hlsjs(w.cdn, { stream: 'tv' })
          const hls = new Hls({ ...p2p.config })
          p2p.attach(hls)
          hls.on(Hls.Events.ERROR, (_: unknown, d: any) => {
            if (d.fatal) errors.push(d.details)
          })
          hls.attachMedia(video)
          hls.loadSource(src)
          await new Promise(resolve => hls.once(Hls.Events.MANIFEST_PARSED, resolve))
          await video.play()
          // Bounded: the stream is 12 s.
          await new Promise<void>(resolve => {
            video.addEventListener('ended', () => resolve(), { once: true })
            setTimeout(resolve, 40_000)
          })
          return { ended: video.ended, errors, stream: w.cdn.stats().streams.tv, peers: w.cdn.stats().peers.length }
        },
        { src: `${env.origin.url}${media.hlsTs.playlist}` }
      )
      record('client', 'fetching-liar: victim', { ...result.stream.bytes, stalls: result.stream.stalls })
      expect(result.errors).toEqual([])
      expect(result.ended).toBe(true)
      expect(result.stream.stalls).toBe(0)
      expect(result.stream.segments).toBe(media.hlsTs.segments.length)
      expect(result.stream.bytes.peer).toBe(0)
      expect(result.stream.bytes.edge).toBeGreaterThan(0)
      // The liar kept claiming throughout (a claim per segment, renewed every 2 s).
      expect(joined.peer.counters.framesSent).toBeGreaterThan(resources.length)
    } finally {
      await joined.close()
    }
  }, 60_000)
})
