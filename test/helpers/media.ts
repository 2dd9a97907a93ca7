/**
 * Real video streams for tests, made by Debian's `ffmpeg` at test time: HLS (MPEG-TS,
 * fMP4, byte ranges, two renditions) and DASH, served from the test origin with the
 * content types and cache headers an operator would configure, plus a live publisher
 * and the player libraries.
 *
 * Generation takes about 1.5 s; the result is cached under os.tmpdir() by its
 * parameters, so every test file of a run (and later runs) share one generation.
 *
 * @example
 * ```ts
 * const media = await generateMedia()
 * const origin = await startOrigin({ ...media.files, ...(await playerFiles()) })
 * // in a page: new Hls().loadSource(origin.url + media.hlsTs.playlist)
 * const live = startLive(origin, media.hlsTs)
 * // ... origin.url + live.playlist
 * live.stop()
 * ```
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { OriginFile } from './origin.js'

const run = promisify(execFile)

/** Bump when the layout or the ffmpeg arguments change, so stale caches are not reused. */
const FORMAT = 2

export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg'

/** What an operator sets: segments never change once published, playlists do (live) or may (VOD re-publish). */
export const CACHE = {
  segment: 'public, max-age=31536000, immutable',
  vodPlaylist: 'public, max-age=60',
  livePlaylist: 'public, max-age=1'
} as const

export interface MediaOptions {
  /** Length of every stream. @default 12 */
  seconds?: number
  /** Segment length; every segment starts on a keyframe. @default 2 */
  segmentSeconds?: number
  /** @default 25 */
  fps?: number
}

export interface HlsSegment {
  /** Origin path, e.g. `/vod/ts/seg-0.ts`. */
  path: string
  duration: number
}

export interface HlsStream {
  /** Origin path of the playlist to load. */
  playlist: string
  files: Record<string, OriginFile>
  /** Media segments of the (first) media playlist, in order. */
  segments: HlsSegment[]
  /** Origin path of the fMP4 init segment (`#EXT-X-MAP`), if any. */
  map?: string
  targetDuration: number
}

export interface DashStream {
  /** Origin path of the MPD. */
  manifest: string
  files: Record<string, OriginFile>
}

export interface Media {
  /** Every stream's files, ready for `startOrigin`. */
  files: Record<string, OriginFile>
  /** HLS, MPEG-TS segments, one rendition (320x180, H.264 Constrained Baseline + AAC). */
  hlsTs: HlsStream
  /** HLS, fMP4 segments with an init segment, same content. */
  hlsFmp4: HlsStream
  /** HLS, one MPEG-TS file addressed by `#EXT-X-BYTERANGE`. */
  hlsByteRange: HlsStream
  /** HLS, MPEG-TS, master playlist with two renditions (`low` 320x180, `high` 426x240 Main) and CODECS. */
  hlsAbr: HlsStream
  /** DASH, SegmentTemplate with `$Number$`, separate video and audio adaptation sets. */
  dash: DashStream
  /** Directory the files were read from (the cache). */
  dir: string
  /** Milliseconds spent running ffmpeg; 0 when the cache had them. */
  generatedMs: number
}

/** RFC 6381 strings for what `encode` produces (the profiles and level are pinned there). */
export const CODECS = {
  low: 'avc1.42c01e,mp4a.40.2',
  high: 'avc1.4d401e,mp4a.40.2'
} as const

const RENDITIONS = [
  { name: 'low', size: '320x180', profile: 'baseline', kbps: 300, codecs: CODECS.low },
  { name: 'high', size: '426x240', profile: 'main', kbps: 700, codecs: CODECS.high }
] as const

const inFlight = new Map<string, Promise<Media>>()

/** The streams for `options`, generated once per cache key (in this process and on disk). */
export async function generateMedia(options: MediaOptions = {}): Promise<Media> {
  const params = { seconds: 12, segmentSeconds: 2, fps: 25, ...options }
  const key = JSON.stringify({ FORMAT, seconds: params.seconds, seg: params.segmentSeconds, fps: params.fps })
  let media = inFlight.get(key)
  if (media === undefined) {
    media = load(key, params)
    inFlight.set(key, media)
    media.catch(() => inFlight.delete(key))
  }
  return await media
}

async function load(key: string, params: Required<MediaOptions>): Promise<Media> {
  const root = join(tmpdir(), 'p2pcdn-media')
  const dir = join(root, createHash('sha256').update(key).digest('hex').slice(0, 16))
  let generatedMs = 0
  if (!existsSync(dir)) {
    const started = performance.now()
    await mkdir(root, { recursive: true })
    const work = await mkdtemp(join(root, 'tmp-'))
    try {
      await generate(work, params)
      await publish(work, dir)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
    generatedMs = Math.round(performance.now() - started)
  }
  return { ...(await read(dir, '/vod')), dir, generatedMs }
}

/** Rename is atomic: a directory under its final name is complete. Losing the race to another worker is fine. */
async function publish(work: string, dir: string): Promise<void> {
  try {
    await rename(work, dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !existsSync(dir)) throw err
  }
}

async function ffmpeg(args: string[], cwd: string): Promise<void> {
  try {
    await run(FFMPEG, ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd })
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string }
    if (e.code === 'ENOENT')
      throw new Error(
        `ffmpeg not found (${FFMPEG}). Install Debian's ffmpeg (apt-get install -y ffmpeg; .ci/run does it).`,
        { cause: err }
      )
    throw new Error(`ffmpeg ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err })
  }
}

const FMP4 = ['-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4']

async function generate(work: string, p: Required<MediaOptions>): Promise<void> {
  // Encode each rendition once; every format below only remuxes it.
  await Promise.all(RENDITIONS.map(r => encode(work, r, p)))
  const hls = (dir: string, extra: string[], input = 'low.mp4'): string[] => [
    ...['-i', input, '-c', 'copy', '-f', 'hls', '-hls_time', String(p.segmentSeconds), '-hls_playlist_type', 'vod'],
    ...extra,
    `${dir}/index.m3u8`
  ]
  for (const d of ['ts', 'fmp4', 'byterange', 'dash', 'abr/low', 'abr/high'])
    await mkdir(join(work, d), { recursive: true })
  await Promise.all([
    ffmpeg(hls('ts', ['-hls_segment_filename', 'ts/seg-%d.ts']), work),
    ffmpeg(hls('fmp4', [...FMP4, '-hls_segment_filename', 'fmp4/seg-%d.m4s']), work),
    ffmpeg(hls('byterange', ['-hls_flags', 'single_file', '-hls_segment_filename', 'byterange/media.ts']), work),
    ...RENDITIONS.map(r =>
      ffmpeg(hls(`abr/${r.name}`, ['-hls_segment_filename', `abr/${r.name}/seg-%d.ts`], `${r.name}.mp4`), work)
    ),
    dash(work, p.segmentSeconds)
  ])
  await writeMaster(join(work, 'abr', 'master.m3u8'))
  await Promise.all(RENDITIONS.map(r => rm(join(work, `${r.name}.mp4`))))
}

function encode(work: string, r: (typeof RENDITIONS)[number], p: Required<MediaOptions>): Promise<void> {
  const gop = String(p.fps * p.segmentSeconds)
  return ffmpeg(
    [
      ...['-f', 'lavfi', '-i', `testsrc=size=${r.size}:rate=${p.fps}:duration=${p.seconds}`],
      // The AAC encoder's priming frame (1024 samples) would start audio that much before video
      // in MPEG-TS, leaving a hole at the start of the buffer; delaying the tone by it aligns them.
      ...['-itsoffset', String(1024 / 48000)],
      ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${p.seconds}`],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', r.profile, '-level:v', '3.0', '-pix_fmt', 'yuv420p'],
      // A keyframe exactly on every segment boundary and nowhere else, so segments cut cleanly.
      ...['-g', gop, '-keyint_min', gop, '-sc_threshold', '0'],
      ...['-force_key_frames', `expr:gte(t,n_forced*${p.segmentSeconds})`],
      ...['-b:v', `${r.kbps}k`, '-maxrate', `${r.kbps}k`, '-bufsize', `${2 * r.kbps}k`],
      ...['-c:a', 'aac', '-b:a', '64k', '-ac', '1', '-shortest', `${r.name}.mp4`]
    ],
    work
  )
}

function dash(work: string, segmentSeconds: number): Promise<void> {
  return ffmpeg(
    [
      ...['-i', '../low.mp4', '-map', '0:v', '-map', '0:a', '-c', 'copy', '-f', 'dash'],
      ...['-seg_duration', String(segmentSeconds), '-use_template', '1', '-use_timeline', '0'],
      ...['-init_seg_name', 'init-$RepresentationID$.m4s', '-media_seg_name', 'chunk-$RepresentationID$-$Number$.m4s'],
      ...['-adaptation_sets', 'id=0,streams=v id=1,streams=a', 'manifest.mpd']
    ],
    join(work, 'dash')
  )
}

/** ffmpeg's master playlist has no CODECS (with -c copy), which Shaka needs to pick without probing. */
async function writeMaster(file: string): Promise<void> {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS']
  for (const r of RENDITIONS) {
    // Peak, with room for the TS overhead over the encoder's average.
    const bandwidth = Math.round((r.kbps + 64) * 1000 * 1.2)
    lines.push(
      `#EXT-X-STREAM-INF:BANDWIDTH=${bandwidth},RESOLUTION=${r.size},CODECS="${r.codecs}"`,
      `${r.name}/index.m3u8`
    )
  }
  await writeFile(file, `${lines.join('\n')}\n`)
}

async function read(dir: string, prefix: string): Promise<Omit<Media, 'dir' | 'generatedMs'>> {
  const raw: Record<string, Uint8Array> = {}
  for (const file of await walk(dir))
    raw[`${prefix}/${relative(dir, file).split(sep).join('/')}`] = await readFile(file)
  return fromRaw(raw, prefix)
}

function fromRaw(raw: Record<string, Uint8Array>, prefix: string): Omit<Media, 'dir' | 'generatedMs'> {
  const dashTypes = dashRepresentationTypes(text(raw[`${prefix}/dash/manifest.mpd`]))
  const files: Record<string, OriginFile> = {}
  for (const [path, body] of Object.entries(raw)) files[path] = originFile(path, body, dashTypes)
  const pick = (sub: string): Record<string, OriginFile> =>
    Object.fromEntries(Object.entries(files).filter(([p]) => p.startsWith(`${prefix}/${sub}/`)))
  const hls = (sub: string, playlist: string, media = playlist): HlsStream => ({
    playlist: `${prefix}/${sub}/${playlist}`,
    files: pick(sub),
    ...parseMediaPlaylist(text(raw[`${prefix}/${sub}/${media}`]), `${prefix}/${sub}/${media}`)
  })
  return {
    files,
    hlsTs: hls('ts', 'index.m3u8'),
    hlsFmp4: hls('fmp4', 'index.m3u8'),
    hlsByteRange: hls('byterange', 'index.m3u8'),
    hlsAbr: hls('abr', 'master.m3u8', 'low/index.m3u8'),
    dash: { manifest: `${prefix}/dash/manifest.mpd`, files: pick('dash') }
  }
}

function text(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) throw new Error('generated stream is missing a playlist')
  return Buffer.from(bytes).toString('utf8')
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await walk(path)))
    else out.push(path)
  }
  return out.sort()
}

/** DASH segment names carry only the representation id; the MPD says which one is audio. */
function dashRepresentationTypes(mpd: string): Map<string, string> {
  const types = new Map<string, string>()
  for (const m of mpd.matchAll(/<Representation id="([^"]+)" mimeType="([^"]+)"/g)) types.set(m[1]!, m[2]!)
  return types
}

function originFile(path: string, body: Uint8Array, dashTypes: Map<string, string>): OriginFile {
  const name = path.slice(path.lastIndexOf('/') + 1)
  const ext = name.slice(name.lastIndexOf('.') + 1)
  if (ext === 'm3u8')
    return { body, type: 'application/vnd.apple.mpegurl', headers: { 'Cache-Control': CACHE.vodPlaylist } }
  if (ext === 'mpd') return { body, type: 'application/dash+xml', headers: { 'Cache-Control': CACHE.vodPlaylist } }
  const rep = /^(?:init|chunk)-([^-.]+)/.exec(name)?.[1]
  const type = ext === 'ts' ? 'video/mp2t' : ((rep !== undefined ? dashTypes.get(rep) : undefined) ?? 'video/mp4')
  return { body, type, headers: { 'Cache-Control': CACHE.segment } }
}

/** Segments and the init segment of a VOD media playlist, as origin paths. */
function parseMediaPlaylist(playlist: string, path: string): Omit<HlsStream, 'playlist' | 'files'> {
  const base = path.slice(0, path.lastIndexOf('/') + 1)
  const segments: HlsSegment[] = []
  let duration = 0
  let map: string | undefined
  let targetDuration = 0
  for (const line of playlist.split('\n').map(l => l.trim())) {
    if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice('#EXTINF:'.length))
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDuration = Number(line.slice(22))
    else if (line.startsWith('#EXT-X-MAP:')) map = base + (/URI="([^"]+)"/.exec(line)?.[1] ?? '')
    else if (line !== '' && !line.startsWith('#')) segments.push({ path: base + line, duration })
  }
  return { segments, targetDuration, ...(map === undefined ? {} : { map }) }
}

export interface LiveOptions {
  /** Origin directory of the live stream; the playlist is `<path>/index.m3u8`. @default '/live' */
  path?: string
  /** Segments in the playlist. @default 5 */
  window?: number
  /** A new segment every this many milliseconds; 0 publishes only on `next()`. @default segment length */
  intervalMs?: number
}

export interface LiveStream {
  /** Origin path of the live media playlist. */
  playlist: string
  /** Segments published so far (the newest is `seg-<published - 1>`). */
  published: () => number
  /** Publish the next segment now. */
  next: () => void
  /** Stop publishing; what was published stays on the origin. */
  stop: () => void
}

/**
 * Serves `source`'s segments as a live stream: a sliding-window playlist without ENDLIST
 * whose media sequence advances by one segment every `intervalMs`. The source repeats
 * under new names (`seg-<n>.ts`), with a discontinuity where it wraps, as a looping
 * channel would; the window starts full, as if the channel had been running.
 */
export function startLive(
  origin: { files: Record<string, OriginFile> },
  source: HlsStream,
  { path = '/live', window = 5, intervalMs }: LiveOptions = {}
): LiveStream {
  // Byte-range playlists name one file for every segment; a live window of them would need BYTERANGE tags too.
  if (new Set(source.segments.map(s => s.path)).size !== source.segments.length)
    throw new Error('startLive needs a stream with one file per segment (not byte ranges)')
  const ext = source.segments[0]!.path.slice(source.segments[0]!.path.lastIndexOf('.'))
  if (source.map !== undefined) origin.files[`${path}/init.mp4`] = file(source, source.map)
  let published = 0
  const next = (): void => {
    const segment = source.segments[published % source.segments.length]!
    origin.files[`${path}/seg-${published}${ext}`] = file(source, segment.path)
    published++
    origin.files[`${path}/index.m3u8`] = {
      body: livePlaylist(source, published, window, ext),
      type: 'application/vnd.apple.mpegurl',
      headers: { 'Cache-Control': CACHE.livePlaylist }
    }
  }
  for (let i = 0; i < window; i++) next()
  const every = intervalMs ?? source.targetDuration * 1000
  const timer = every > 0 ? setInterval(next, every) : undefined
  // A test that forgets stop() must not keep vitest's worker alive.
  timer?.unref()
  return { playlist: `${path}/index.m3u8`, published: () => published, next, stop: () => clearInterval(timer) }
}

function file(source: HlsStream, path: string): OriginFile {
  const f = source.files[path]
  if (f === undefined) throw new Error(`startLive: the stream has no ${path}`)
  return f
}

function livePlaylist(source: HlsStream, published: number, window: number, ext: string): string {
  const n = source.segments.length
  const first = Math.max(0, published - window)
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${source.map === undefined ? 3 : 7}`,
    `#EXT-X-TARGETDURATION:${source.targetDuration}`,
    `#EXT-X-MEDIA-SEQUENCE:${first}`,
    // A wrap tag that slid out of the window still counts (RFC 8216 4.3.3.3).
    `#EXT-X-DISCONTINUITY-SEQUENCE:${Math.floor(first / n)}`
  ]
  if (source.map !== undefined) lines.push('#EXT-X-MAP:URI="init.mp4"')
  for (let i = first; i < published; i++) {
    if (i > first && i % n === 0) lines.push('#EXT-X-DISCONTINUITY')
    lines.push(`#EXTINF:${source.segments[i % n]!.duration.toFixed(6)},`, `seg-${i}${ext}`)
  }
  return `${lines.join('\n')}\n`
}

const here = dirname(fileURLToPath(import.meta.url))
const PLAYERS = {
  '/hls.js': join(here, '../../node_modules/hls.js/dist/hls.min.js'),
  '/shaka.js': join(here, '../../node_modules/shaka-player/dist/shaka-player.compiled.js')
}

/** hls.js at `/hls.js` and Shaka Player at `/shaka.js`, for `page.addScriptTag({ url })`. */
export async function playerFiles(): Promise<Record<string, OriginFile>> {
  const files: Record<string, OriginFile> = {}
  for (const [path, file] of Object.entries(PLAYERS))
    files[path] = { body: await readFile(file), type: 'text/javascript', headers: { 'Cache-Control': 'no-cache' } }
  return files
}

/**
 * One progressive MP4 (H.264 + AAC, `moov` first, a keyframe every second) of about
 * `seconds × (kbps + 64) / 8` KB, for a plain `<video src>`: the browser reads it with
 * Range requests and seeks by them. Cached under os.tmpdir() like `generateMedia`.
 */
export async function progressiveMp4({ seconds = 20, kbps = 1000 } = {}): Promise<Uint8Array> {
  const root = join(tmpdir(), 'p2pcdn-media')
  const file = join(root, `progressive-${FORMAT}-${seconds}s-${kbps}k.mp4`)
  if (!existsSync(file)) {
    await mkdir(root, { recursive: true })
    const work = await mkdtemp(join(root, 'tmp-'))
    try {
      await ffmpeg(
        [
          ...['-f', 'lavfi', '-i', `testsrc2=size=640x360:rate=25:duration=${seconds}`],
          ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
          ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '25', '-keyint_min', '25'],
          ...['-b:v', `${kbps}k`, '-minrate', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${2 * kbps}k`],
          ...['-c:a', 'aac', '-b:a', '64k', '-ac', '1', '-shortest', '-movflags', '+faststart', 'out.mp4']
        ],
        work
      )
      await rename(join(work, 'out.mp4'), file)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }
  return await readFile(file)
}

/** A `width`×`height` PNG test picture (ffmpeg's testsrc2 at frame `frame`), cached like the rest. */
export async function pngImage(width = 480, height = 360, frame = 0): Promise<Uint8Array> {
  const root = join(tmpdir(), 'p2pcdn-media')
  const file = join(root, `image-${FORMAT}-${width}x${height}-${frame}.png`)
  if (!existsSync(file)) {
    await mkdir(root, { recursive: true })
    const work = await mkdtemp(join(root, 'tmp-'))
    try {
      const size = `${width}x${height}`
      await ffmpeg(
        [
          '-f',
          'lavfi',
          '-i',
          `testsrc2=size=${size}:rate=25`,
          '-vf',
          `select=eq(n\\,${frame})`,
          '-frames:v',
          '1',
          'out.png'
        ],
        work
      )
      await rename(join(work, 'out.png'), file)
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }
  return await readFile(file)
}
