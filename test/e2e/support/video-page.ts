/**
 * What the video tests read from a page that plays through the SDK (`window.video`,
 * `window.cdn`, `window.errors`, the stream named `tv`), shared by the hls.js and Shaka tests.
 */
import type { Page } from 'playwright'
import type { BytesBySource, StreamStats } from '../../../client/src/index.js'
import { startCdnEnv, type CdnEnv } from '../../helpers/cdn-env.js'
import { generateMedia, playerFiles, type Media } from '../../helpers/media.js'

/** The test streams (made by ffmpeg, cached) served by the origin of a whole p2pcdn, with hls.js and Shaka. */
export async function startVideoEnv(): Promise<{ media: Media; env: CdnEnv }> {
  const media = await generateMedia()
  const env = await startCdnEnv({ ...media.files, ...(await playerFiles()) })
  return { media, env }
}

export const WAIT = { timeout: 40_000, polling: 100 }

/** A page's `<video>`, its player's errors, and the SDK's figures for the stream. */
export interface Viewing {
  currentTime: number
  ended: boolean
  errors: string[]
  stream: StreamStats
  /** Bytes by source of each URL (`stats().resources`). */
  resources: Record<string, BytesBySource>
}

export async function viewing(page: Page): Promise<Viewing> {
  return await page.evaluate(() => {
    const w = globalThis as any
    const stats = w.cdn.stats()
    return {
      currentTime: w.video.currentTime,
      ended: w.video.ended,
      errors: [...w.errors],
      stream: stats.streams.tv,
      resources: stats.resources
    }
  })
}

/** Errors that stop playback (media errors and the player's fatal ones, recorded with these prefixes); the SDK's recovered ones are only printed. */
export const FATAL = ['video', 'hls fatal', 'shaka']

export function fatal(v: Viewing): string[] {
  return v.errors.filter(e => FATAL.some(p => e.startsWith(p)))
}

/** Waits for the `ended` event, or a fatal error to fail fast with it. */
export async function untilEnded(page: Page): Promise<Viewing> {
  await page.waitForFunction(
    fatalPrefixes => {
      const w = globalThis as any
      return w.video.ended || w.errors.some((e: string) => fatalPrefixes.some(p => e.startsWith(p)))
    },
    FATAL,
    WAIT
  )
  return await viewing(page)
}
