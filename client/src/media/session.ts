import type { MediaHints } from '../chunk-fetcher.js'
import type { Client } from '../client.js'

/** What a session reads of the player's media element (an HTMLMediaElement). */
export interface SessionMedia {
  readonly currentTime: number
  readonly playbackRate: number
  readonly seeking: boolean
  readonly buffered: { readonly length: number; start: (i: number) => number; end: (i: number) => number }
  addEventListener: (type: string, listener: () => void) => void
  removeEventListener: (type: string, listener: () => void) => void
}

export interface MediaSessionOptions {
  /**
   * The stream's name in `stats().streams` and `stall` events: one per player on a page.
   * @default 'video'
   */
  stream?: string
  /**
   * In a live stream, segments that ended more than this many seconds behind the
   * playhead are dropped from storage (peers that lag that far are rare, and storage is
   * the visitor's). VOD segments stay, under the cache's own limit.
   * @default 30
   */
  liveBackBufferSeconds?: number
}

/** Live segments remembered for eviction; beyond this the oldest are left to the cache's LRU. */
const MAX_LIVE_SEGMENTS = 1024

/**
 * What the player integrations share: the media element they play into (for segment
 * deadlines and stall counting) and the live segments to drop once played.
 */
export class MediaSession {
  readonly stream: string
  readonly #cdn: Client
  readonly #backBufferSeconds: number
  #media: SessionMedia | undefined
  #unwatch: (() => void) | undefined
  /** Live segment URL -> its end on the media timeline, in seconds. */
  readonly #live = new Map<string, number>()
  live = false
  readonly #onTime = (): void => this.#evictBehind()

  constructor(cdn: Client, options: MediaSessionOptions = {}) {
    this.#cdn = cdn
    this.stream = options.stream ?? 'video'
    this.#backBufferSeconds = options.liveBackBufferSeconds ?? 30
    if (!(this.#backBufferSeconds >= 0))
      throw new TypeError(
        `liveBackBufferSeconds must be a non-negative number, got ${String(options.liveBackBufferSeconds)}`
      )
  }

  get media(): SessionMedia | undefined {
    return this.#media
  }

  /** Play into `media` from now on (undefined: detached). */
  setMedia(media: SessionMedia | undefined): void {
    if (media === this.#media) return
    this.#unwatch?.()
    this.#media?.removeEventListener('timeupdate', this.#onTime)
    this.#media = media
    this.#unwatch = media === undefined ? undefined : this.#cdn.watchPlayback(media, this.stream)
    media?.addEventListener('timeupdate', this.#onTime)
  }

  /**
   * Milliseconds until the player needs the segment starting at `startSeconds` on the
   * media timeline; without it, until the buffer ahead of the playhead runs out (a player
   * asks for the segment that follows what it buffered). With no media element known,
   * 0: the integration cannot tell, so the segment is treated as needed now.
   */
  deadlineMs(startSeconds?: number): number {
    const media = this.#media
    if (media === undefined) return 0
    const at = media.currentTime
    const until = startSeconds ?? bufferedEnd(media, at)
    return (Math.max(0, until - at) * 1000) / Math.max(0.1, media.playbackRate)
  }

  /** The hints `cdn.fetch` takes for a segment starting at `startSeconds`. */
  hints(startSeconds?: number): MediaHints {
    return { stream: this.stream, deadlineMs: () => this.deadlineMs(startSeconds) }
  }

  /** A live segment was delivered: drop it from storage once the playhead is far past `endSeconds`. */
  played(url: string, endSeconds: number): void {
    if (!this.live) return
    this.#live.delete(url)
    this.#live.set(url, endSeconds)
    for (const oldest of this.#live.keys()) {
      if (this.#live.size <= MAX_LIVE_SEGMENTS) break
      this.#live.delete(oldest)
    }
  }

  destroy(): void {
    this.setMedia(undefined)
    this.#live.clear()
  }

  #evictBehind(): void {
    const media = this.#media
    if (media === undefined || media.seeking) return
    const before = media.currentTime - this.#backBufferSeconds
    for (const [url, end] of this.#live) {
      if (end >= before) continue
      this.#live.delete(url)
      void this.#cdn.evict(url)
    }
  }
}

/** End of the buffered range holding `at`, or `at` when nothing there is buffered. */
function bufferedEnd(media: SessionMedia, at: number): number {
  const ranges = media.buffered
  for (let i = 0; i < ranges.length; i++) if (ranges.start(i) <= at + 0.1 && at < ranges.end(i)) return ranges.end(i)
  return at
}
