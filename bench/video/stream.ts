/**
 * The bench's HLS stream: ffmpeg's testsrc2 (with noise, so x264 actually spends the
 * bitrate) and a sine tone, H.264 + AAC in MPEG-TS segments of SEGMENT_SECONDS, one
 * keyframe per segment. Generated once per parameter set and cached under os.tmpdir().
 * `vodPlaylist` and `LivePublisher` serve it from the test origin: VOD as the first
 * segments with an ENDLIST, live as a sliding window that advances in real time.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CACHE } from '../../test/helpers/media.js'
import type { OriginFile } from '../../test/helpers/origin.js'

const run = promisify(execFile)

export const SEGMENT_SECONDS = 2

export interface StreamOptions {
  seconds: number
  /** Video bitrate, kbit/s (audio adds 64). */
  videoKbps: number
  size: string
  fps: number
}

export interface Segments {
  /** Segment bodies in order, each SEGMENT_SECONDS long. */
  bodies: Uint8Array[]
  /** Their durations as ffmpeg wrote them. */
  durations: number[]
  /** Mean bytes per second over the stream (segments only). */
  bytesPerSec: number
  dir: string
  generatedMs: number
}

/** The stream for `o`, from the cache or made by ffmpeg (a few seconds). */
export async function segments(o: StreamOptions): Promise<Segments> {
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 1, ...o, seg: SEGMENT_SECONDS }))
    .digest('hex')
  const dir = join(tmpdir(), `p2pcdn-bench-video-${key.slice(0, 16)}`)
  let generatedMs = 0
  if (!existsSync(join(dir, 'index.m3u8'))) {
    const started = Date.now()
    const work = `${dir}.tmp-${process.pid}`
    await rm(work, { recursive: true, force: true })
    await mkdir(work, { recursive: true })
    const gop = String(o.fps * SEGMENT_SECONDS)
    const args = [
      ...['-hide_banner', '-loglevel', 'error', '-y'],
      ...['-f', 'lavfi', '-i', `testsrc2=size=${o.size}:rate=${o.fps}:duration=${o.seconds}`],
      ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${o.seconds}`],
      ...['-vf', 'noise=alls=12:allf=t'],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p'],
      ...['-g', gop, '-keyint_min', gop, '-sc_threshold', '0'],
      ...['-force_key_frames', `expr:gte(t,n_forced*${SEGMENT_SECONDS})`],
      ...['-b:v', `${o.videoKbps}k`, '-maxrate', `${o.videoKbps}k`, '-bufsize', `${o.videoKbps}k`],
      ...['-c:a', 'aac', '-b:a', '64k', '-ac', '1', '-shortest'],
      ...['-f', 'hls', '-hls_time', String(SEGMENT_SECONDS), '-hls_list_size', '0', '-hls_playlist_type', 'vod'],
      ...['-hls_segment_filename', 'seg-%03d.ts', 'index.m3u8']
    ]
    try {
      await run(process.env.FFMPEG_PATH ?? 'ffmpeg', args, { cwd: work })
    } catch (err) {
      const e = err as { stderr?: string; message: string }
      throw new Error(`ffmpeg failed: ${e.stderr ?? e.message}`, { cause: err })
    }
    await rm(dir, { recursive: true, force: true })
    await rename(work, dir)
    generatedMs = Date.now() - started
  }
  const playlist = await readFile(join(dir, 'index.m3u8'), 'utf8')
  const durations = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].map(m => Number(m[1]))
  const names = (await readdir(dir)).filter(n => n.endsWith('.ts')).sort()
  if (names.length !== durations.length)
    throw new Error(`${dir}: ${names.length} segments, playlist lists ${durations.length}`)
  const bodies = await Promise.all(names.map(async n => new Uint8Array(await readFile(join(dir, n)))))
  const total = bodies.reduce((n, b) => n + b.length, 0)
  const seconds = durations.reduce((n, d) => n + d, 0)
  return { bodies, durations, bytesPerSec: total / seconds, dir, generatedMs }
}

const segmentFile = (body: Uint8Array): OriginFile => ({
  body,
  type: 'video/mp2t',
  headers: { 'Cache-Control': CACHE.segment }
})

/** Lines of a media playlist holding segments `from` (its media sequence) to `to` (exclusive). */
function playlistText(s: Segments, base: string, from: number, to: number, ended: boolean): string {
  const target = Math.ceil(Math.max(...s.durations.slice(from, to)))
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${target}`, `#EXT-X-MEDIA-SEQUENCE:${from}`]
  if (ended && from === 0) lines.push('#EXT-X-PLAYLIST-TYPE:VOD')
  for (let i = from; i < to; i++) lines.push(`#EXTINF:${s.durations[i]!.toFixed(6)},`, `${base}/seg-${i}.ts`)
  if (ended) lines.push('#EXT-X-ENDLIST')
  return lines.join('\n') + '\n'
}

/** Put a VOD of the first `count` segments at `<prefix>/vod/index.m3u8`; returns the playlist path. */
export function publishVod(files: Record<string, OriginFile>, s: Segments, prefix: string, count: number): string {
  const n = Math.min(count, s.bodies.length)
  for (let i = 0; i < n; i++) files[`${prefix}/vod/seg-${i}.ts`] = segmentFile(s.bodies[i]!)
  const path = `${prefix}/vod/index.m3u8`
  files[path] = {
    body: playlistText(s, `${prefix}/vod`, 0, n, true),
    type: 'application/vnd.apple.mpegurl',
    headers: { 'Cache-Control': CACHE.vodPlaylist }
  }
  return path
}

/**
 * A live stream at `<prefix>/live/index.m3u8`: a window of `window` segments whose
 * media sequence advances by one every SEGMENT_SECONDS, as a packager publishes.
 * It stops by itself once the generated segments run out (bounded).
 */
export class LivePublisher {
  readonly playlist: string
  #next: number
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(
    readonly files: Record<string, OriginFile>,
    readonly s: Segments,
    readonly prefix: string,
    readonly window = 5
  ) {
    this.playlist = `${prefix}/live/index.m3u8`
    this.#next = window
    for (let i = 0; i < window; i++) this.#publishSegment(i)
    this.#write()
    this.#timer = setInterval(() => this.#advance(), SEGMENT_SECONDS * 1000)
  }

  /** Segments published so far. */
  get published(): number {
    return this.#next
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #advance(): void {
    if (this.#next >= this.s.bodies.length) {
      this.stop()
      return
    }
    this.#publishSegment(this.#next++)
    this.#write()
  }

  #publishSegment(i: number): void {
    this.files[`${this.prefix}/live/seg-${i}.ts`] = segmentFile(this.s.bodies[i]!)
  }

  #write(): void {
    const from = Math.max(0, this.#next - this.window)
    this.files[this.playlist] = {
      body: playlistText(this.s, `${this.prefix}/live`, from, this.#next, false),
      type: 'application/vnd.apple.mpegurl',
      headers: { 'Cache-Control': CACHE.livePlaylist }
    }
  }
}
