/**
 * The demo's video: half a minute of `testsrc` with a tone as HLS (MPEG-TS, 2 s segments),
 * made once with Debian's `ffmpeg` into examples/site/media/video/, and hls.js copied
 * next to it. Without ffmpeg the demo runs without its video section.
 */
import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { packageRoot } from '../../edge/src/package-root.js'

const run = promisify(execFile)

/** Origin paths the page uses. */
export const VIDEO_PLAYLIST = '/media/video/index.m3u8'
export const HLS_JS = '/media/hls.min.js'

/** Why there is no video, or undefined when it is ready. */
export async function ensureVideo(site: string): Promise<string | undefined> {
  const hlsJs = join(packageRoot(), 'node_modules', 'hls.js', 'dist', 'hls.min.js')
  if ((await stat(hlsJs).catch(() => undefined)) === undefined) return 'hls.js is not installed (npm install)'
  await mkdir(join(site, 'media'), { recursive: true })
  await copyFile(hlsJs, join(site, HLS_JS))
  const dir = join(site, 'media', 'video')
  if ((await stat(join(dir, 'index.m3u8')).catch(() => undefined)) !== undefined) return undefined
  const work = await mkdtemp(join(site, 'media', 'video-'))
  try {
    // A keyframe every 2 s (50 frames at 25 fps) so that every segment starts on one.
    await run(
      process.env.FFMPEG_PATH ?? 'ffmpeg',
      [
        ...['-hide_banner', '-loglevel', 'error', '-y'],
        ...['-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440'],
        ...['-t', '30', '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'main', '-pix_fmt', 'yuv420p'],
        ...['-b:v', '800k', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0', '-c:a', 'aac', '-b:a', '64k'],
        ...['-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod'],
        ...['-hls_segment_filename', join(work, 'seg-%d.ts'), join(work, 'index.m3u8')]
      ],
      { timeout: 120_000 }
    )
    await rename(work, dir)
    return undefined
  } catch (err) {
    const why = (err as { stderr?: string }).stderr?.trim() ?? (err as Error).message
    return `ffmpeg could not make the demo video (apt-get install -y ffmpeg): ${why.split('\n').at(-1)!}`
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
