/**
 * What the player integrations share (client/src/media/): stalls as a viewer counts
 * them, per-stream figures bounded, segment deadlines from the playhead. The Chromium
 * tests in test/e2e/video*.test.ts prove the same with real players.
 */
import { describe, expect, it } from 'vitest'
import { watchPlayback } from '../../../client/src/media/playback.js'
import { MediaSession, type SessionMedia } from '../../../client/src/media/session.js'
import { MAX_STREAMS, StreamBook } from '../../../client/src/media/stream-stats.js'
import type { Client } from '../../../client/src/client.js'

/** A media element's events and playhead, driven by the test. */
class FakeMedia extends EventTarget implements SessionMedia {
  currentTime = 0
  playbackRate = 1
  seeking = false
  ranges: Array<[number, number]> = []
  get buffered(): SessionMedia['buffered'] {
    return { length: this.ranges.length, start: i => this.ranges[i]![0], end: i => this.ranges[i]![1] }
  }
  fire(type: string): void {
    this.dispatchEvent(new Event(type))
  }
}

function watched(): { media: FakeMedia; log: string[]; at: { now: number }; stop: () => void } {
  const media = new FakeMedia()
  const log: string[] = []
  const at = { now: 0 }
  const stop = watchPlayback(
    media,
    {
      started: ms => log.push(`started ${ms}`),
      stallBegan: () => log.push('stall'),
      stallEnded: ms => log.push(`stalled ${ms}`)
    },
    () => at.now
  )
  return { media, log, at, stop }
}

describe('watchPlayback: stalls as a viewer sees them', () => {
  it('buffering before the first frame is startup, not a stall', () => {
    const { media, log, at } = watched()
    media.fire('waiting')
    at.now = 700
    media.fire('playing')
    expect(log).toEqual(['started 700'])
  })

  it('a waiting after playback started is a stall until playing again', () => {
    const { media, log, at } = watched()
    media.fire('playing')
    at.now = 1000
    media.fire('waiting')
    at.now = 1600
    media.fire('playing')
    expect(log).toEqual(['started 0', 'stall', 'stalled 600'])
  })

  it('a waiting while seeking is the seek, not a stall; a seek ends a stall', () => {
    const { media, log, at } = watched()
    media.fire('playing')
    media.seeking = true
    media.fire('waiting')
    media.seeking = false
    media.fire('playing')
    at.now = 100
    media.fire('waiting')
    at.now = 350
    media.fire('seeking')
    expect(log).toEqual(['started 0', 'stall', 'stalled 250'])
  })

  it('stopping the watch closes an open stall and hears nothing more', () => {
    const { media, log, at, stop } = watched()
    media.fire('playing')
    media.fire('waiting')
    at.now = 40
    stop()
    media.fire('playing')
    media.fire('waiting')
    expect(log).toEqual(['started 0', 'stall', 'stalled 40'])
  })
})

describe('StreamBook', () => {
  it('offload is peer bytes over network bytes, cache excluded', () => {
    const book = new StreamBook()
    book.count('v', 'peer', 300)
    book.count('v', 'edge', 100)
    book.count('v', 'cache', 1000)
    book.segment('v')
    expect(book.snapshot().v).toMatchObject({ offload: 0.75, segments: 1, stalls: 0 })
  })

  it(`keeps at most MAX_STREAMS streams, the least recently used dropped`, () => {
    const book = new StreamBook()
    for (let i = 0; i < MAX_STREAMS * 3; i++) book.segment(`s${i}`)
    book.segment(`s${MAX_STREAMS * 2 + 1}`)
    const names = Object.keys(book.snapshot())
    expect(names.length).toBe(MAX_STREAMS)
    expect(names).not.toContain('s0')
    expect(names.at(-1)).toBe(`s${MAX_STREAMS * 2 + 1}`)
  })
})

describe('MediaSession: segment deadlines', () => {
  const cdn = { watchPlayback: () => () => {}, evict: async () => {} } as unknown as Client

  it('without a media element every segment is needed now', () => {
    expect(new MediaSession(cdn).deadlineMs(30)).toBe(0)
  })

  it('a segment is needed when the playhead reaches its start, sooner at a faster rate; one behind it now', () => {
    const session = new MediaSession(cdn)
    const media = new FakeMedia()
    session.setMedia(media)
    media.currentTime = 10
    expect(session.deadlineMs(16)).toBe(6000)
    media.playbackRate = 2
    expect(session.deadlineMs(16)).toBe(3000)
    expect(session.deadlineMs(4)).toBe(0)
  })

  it('without a start time, the segment is needed when the buffer ahead runs out', () => {
    const session = new MediaSession(cdn)
    const media = new FakeMedia()
    session.setMedia(media)
    media.currentTime = 10
    media.ranges = [
      [0, 4],
      [8, 14.5]
    ]
    expect(session.deadlineMs()).toBe(4500)
    media.ranges = []
    expect(session.deadlineMs()).toBe(0)
  })

  it('live segments far behind the playhead are evicted, VOD ones never', () => {
    const evicted: string[] = []
    const spy = {
      watchPlayback: () => () => {},
      evict: async (url: string) => void evicted.push(url)
    } as unknown as Client
    const session = new MediaSession(spy, { liveBackBufferSeconds: 10 })
    const media = new FakeMedia()
    session.setMedia(media)
    session.played('/vod.ts', 2)
    session.live = true
    session.played('/a.ts', 2)
    session.played('/b.ts', 14)
    media.currentTime = 20
    media.fire('timeupdate')
    expect(evicted).toEqual(['/a.ts'])
  })
})
