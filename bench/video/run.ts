/**
 * `npm run bench:video`: real Chromium pages playing a real HLS stream (live and VOD) in
 * front of a busy (rate-capped) edge, three arms alternated in one run: ours
 * (P2PCDN.hlsjs), p2p-media-loader-hlsjs 2.x on the same tracker and edge, and plain
 * hls.js over HTTP (the startup anchor).
 *
 * Flags: --pages N (default 10, at most 20), --rounds N (default 2, at most 5),
 * --edge-cap BYTES/s (default 1 MiB/s), --watch-seconds S (default 40, at most 120),
 * --pml-as-shipped (no copy of segments for p2p-media-loader; see VideoInit.pmlCopySegments).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { build } from 'esbuild'
import type { Browser } from 'playwright'
import { createEdge } from '../../edge/src/index.js'
import { packageRoot } from '../../edge/src/package-root.js'
import { createTracker } from '../../tracker/src/index.js'
import { launchChromium } from '../../test/helpers/chromium.js'
import { startOrigin } from '../../test/helpers/origin.js'
import { machine, markdownTable, median, writeResults } from '../common/report.js'
import { collect, startPage, type Arm, type VideoInit, type VideoRun } from './pages.js'
import { LivePublisher, publishVod, SEGMENT_SECONDS, segments } from './stream.js'

const { values: flags } = parseArgs({
  options: {
    pages: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    'edge-cap': { type: 'string', default: String(1024 * 1024) },
    'watch-seconds': { type: 'string', default: '40' },
    /** Run p2p-media-loader without the bench's copy of each segment (see VideoInit.pmlCopySegments). */
    'pml-as-shipped': { type: 'boolean', default: false },
    /** Comma-separated subsets, for looking into one arm: --arms ours --kinds live. */
    arms: { type: 'string', default: 'ours,pml,http' },
    kinds: { type: 'string', default: 'live,vod' }
  }
})
const PAGES = Math.min(20, Math.max(2, Number(flags.pages)))
const ROUNDS = Math.min(5, Math.max(1, Number(flags.rounds)))
const EDGE_CAP = Number(flags['edge-cap'])
const WATCH_S = Math.min(120, Math.max(10, Number(flags['watch-seconds'])))
const STAGGER_MS = 2000
const LIVE_WINDOW = 5
const VOD_SEGMENTS = 30
const VIDEO_KBPS = 1200
/** Live segments an arm can use: the window, the joins, the watch and some slack. */
const LIVE_SEGMENTS =
  LIVE_WINDOW + Math.ceil(((PAGES - 1) * STAGGER_MS) / 1000 / SEGMENT_SECONDS + (WATCH_S + 20) / SEGMENT_SECONDS)
/** A page that is not playing this long after the watch time is abandoned (bounded). */
const PAGE_SLACK_MS = 30_000
type Kind = 'live' | 'vod'
const ARMS: Arm[] = (['ours', 'pml', 'http'] as const).filter(a => flags.arms.split(',').includes(a))
const KINDS: Kind[] = (['live', 'vod'] as const).filter(k => flags.kinds.split(',').includes(k))
if (ARMS.length === 0 || KINDS.length === 0) throw new Error('--arms and --kinds: ours,pml,http and live,vod')
const FULL = ARMS.length === 3 && KINDS.length === 2

const stream = await segments({
  seconds: Math.max(VOD_SEGMENTS, LIVE_SEGMENTS) * SEGMENT_SECONDS,
  videoKbps: VIDEO_KBPS,
  size: '320x180',
  fps: 25
})
if (stream.generatedMs > 0) console.error(`ffmpeg made the stream in ${(stream.generatedMs / 1000).toFixed(1)} s`)

// p2p-media-loader for the browser: its core's self-contained build (bittorrent-tracker inside).
const pml = await build({
  entryPoints: [join(packageRoot(), 'bench', 'video', 'pml-entry.ts')],
  bundle: true,
  write: false,
  format: 'iife',
  platform: 'browser',
  conditions: ['p2pml:core-as-bundle'],
  target: 'es2022',
  minify: true,
  logLevel: 'warning'
})
const hlsJs = await readFile(join(packageRoot(), 'node_modules', 'hls.js', 'dist', 'hls.min.js'))

const origin = await startOrigin({
  '/video.html': { body: '<!doctype html><title>bench video</title><body></body>', type: 'text/html' },
  '/hls.min.js': { body: hlsJs, type: 'text/javascript' },
  '/pml.js': { body: pml.outputFiles[0]!.contents, type: 'text/javascript' }
})
const tracker = createTracker({ port: 0, edgeToken: 'bench' })
await tracker.start()

/** Edge bytes by arm run, from the edge's access log: the run's own paths, the SDK's requests, the SDK script. */
interface EdgeBytes {
  segments: number
  playlists: number
  other: number
  sdk: number
}
let edgeAccount: { prefix: string; bytes: EdgeBytes } | undefined
const edge = createEdge({
  origin: origin.url,
  port: 0,
  region: 'eu',
  tracker: tracker.url,
  edgeToken: 'bench',
  maxBytesPerSec: EDGE_CAP,
  accessLog: lines => {
    const a = edgeAccount
    if (a === undefined) return
    for (const line of lines.split('\n')) {
      if (line === '') continue
      const { url, bytes } = JSON.parse(line) as { url: string; bytes: number }
      const path = url.split('?')[0]!
      if (path === '/p2pcdn.js') a.bytes.sdk += bytes
      else if (path.startsWith('/_p2pcdn/'))
        a.bytes.other += bytes // the SDK's manifests and pings
      else if (!path.startsWith(a.prefix)) continue
      else if (path.endsWith('.ts')) a.bytes.segments += bytes
      else if (path.endsWith('.m3u8')) a.bytes.playlists += bytes
      else a.bytes.other += bytes
    }
  }
})
await edge.start()
const browser: Browser = await launchChromium()

interface ArmRun {
  arm: Arm
  kind: Kind
  round: number
  pages: VideoRun[]
  edge: EdgeBytes
  originBytes: number
}

let runId = 0
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** One arm on one stream: pages join STAGGER_MS apart, each watches WATCH_S, then reports. */
async function runArm(arm: Arm, kind: Kind, round: number): Promise<ArmRun> {
  const id = ++runId
  // Fresh paths per run: the edge starts cold and no page has anything stored.
  const prefix = `/r${id}`
  const live = kind === 'live' ? new LivePublisher(origin.files, stream, prefix, LIVE_WINDOW) : undefined
  const playlist = live?.playlist ?? publishVod(origin.files, stream, prefix, VOD_SEGMENTS)
  const bytes: EdgeBytes = { segments: 0, playlists: 0, other: 0, sdk: 0 }
  edgeAccount = { prefix, bytes }
  const originBefore = origin.bytesServed
  const init: VideoInit = {
    arm,
    pageUrl: `${origin.url}/video.html`,
    hlsUrl: `${origin.url}/hls.min.js`,
    scriptUrl: arm === 'ours' ? `${edge.url}/p2pcdn.js` : `${origin.url}/pml.js`,
    playlistUrl: arm === 'ours' ? `${origin.url}${playlist}` : `${edge.url}${playlist}`,
    tracker: tracker.url,
    edge: edge.url,
    swarm: `bench-${id}`,
    pmlCopySegments: !flags['pml-as-shipped']
  }
  const one = async (i: number): Promise<VideoRun> => {
    await sleep(i * STAGGER_MS)
    const { context, page } = await startPage(browser, init)
    try {
      await sleep(WATCH_S * 1000)
      return await Promise.race([
        collect(page, arm),
        sleep(PAGE_SLACK_MS).then(() => {
          throw new Error(`page ${i + 1} did not answer within ${PAGE_SLACK_MS} ms`)
        })
      ])
    } finally {
      await context.close()
    }
  }
  const pages = await Promise.all(Array.from({ length: PAGES }, async (_, i) => await one(i)))
  live?.stop()
  // Let the last access-log lines (closed connections) arrive.
  await sleep(300)
  edgeAccount = undefined
  const run: ArmRun = { arm, kind, round, pages, edge: bytes, originBytes: origin.bytesServed - originBefore }
  const mib = (n: number): string => (n / 2 ** 20).toFixed(1)
  for (const [i, p] of pages.entries())
    console.error(
      `  page ${i + 1}: p2p ${mib(p.p2pBytes)} http ${mib(p.httpBytes)} MiB, startup ${p.startupMs.toFixed(0)} ms, ${p.stalls} stalls ${(p.stalledMs / 1000).toFixed(1)} s, played ${p.played.toFixed(1)} s${p.errors.length > 0 ? `, ${p.errors.length} errors, first: ${p.errors[0]!.slice(0, 160)}` : ''}`
    )
  const s = summarize(run)
  console.error(
    `  -> first peer ${s.firstPeerMs!.toFixed(0)} ms (median), peers at the end ${s.peersAtEnd!.toFixed(1)}/page`
  )
  console.error(
    `  -> P2P ${(100 * s.p2pShare!).toFixed(1)}%, edge ${s.edgeMiB!.toFixed(1)} MiB (segments ${mib(bytes.segments)}, SDK ${mib(bytes.sdk)}), stalls/page ${s.stallsPerPage!.toFixed(2)}, stalled s/page ${s.stalledSPerPage!.toFixed(1)}, startup ${s.startupMs!.toFixed(0)} ms`
  )
  return run
}

function summarize(run: ArmRun): Record<string, number> {
  const sum = (f: (p: VideoRun) => number): number => run.pages.reduce((n, p) => n + f(p), 0)
  const p2p = sum(p => p.p2pBytes)
  const http = sum(p => p.httpBytes)
  const e = run.edge
  const sdk = run.pages.flatMap(p => (p.sdk === undefined ? [] : [p.sdk]))
  return {
    p2pShare: p2p + http === 0 ? 0 : p2p / (p2p + http),
    /** Everything this run's pages took from the edge: segments, playlists, manifests (the SDK apart). */
    edgeMiB: (e.segments + e.playlists + e.other) / 2 ** 20,
    edgeSegmentMiB: e.segments / 2 ** 20,
    edgeSdkMiB: e.sdk / 2 ** 20,
    originMiB: run.originBytes / 2 ** 20,
    stallsPerPage: sum(p => p.stalls) / run.pages.length,
    stalledSPerPage: sum(p => p.stalledMs) / 1000 / run.pages.length,
    startupMs: median(run.pages.map(p => (Number.isFinite(p.startupMs) ? p.startupMs : Infinity))),
    firstFrameMs: median(run.pages.map(p => (Number.isFinite(p.firstFrameMs) ? p.firstFrameMs : Infinity))),
    startupFromNavigationMs: median(
      run.pages.map(p => (Number.isFinite(p.startupFromNavigationMs) ? p.startupFromNavigationMs : Infinity))
    ),
    playedSPerPage: sum(p => p.played) / run.pages.length,
    pagesNeverPlaying: run.pages.filter(p => !Number.isFinite(p.startupMs)).length,
    // Ours only (NaN otherwise): the same figures as the SDK counts them itself, for comparison.
    sdkStallsPerPage: sdk.length === 0 ? NaN : sdk.reduce((n, x) => n + x.stalls, 0) / sdk.length,
    sdkStalledSPerPage: sdk.length === 0 ? NaN : sdk.reduce((n, x) => n + x.stalledMs, 0) / 1000 / sdk.length,
    sdkStartupMs: sdk.length === 0 ? NaN : median(sdk.map(x => x.startupMs ?? Infinity)),
    pagesWithErrors: run.pages.filter(p => p.errors.length > 0).length,
    firstPeerMs: median(run.pages.map(p => (Number.isFinite(p.firstPeerMs) ? p.firstPeerMs : Infinity))),
    peersAtEnd: sum(p => p.peersAtEnd) / run.pages.length
  }
}

const runs: ArmRun[] = []
const started = Date.now()
for (let r = 0; r < ROUNDS; r++) {
  // ours, pml, http on even rounds and the reverse on odd ones: no arm always runs on a warmer machine.
  const order = r % 2 === 0 ? ARMS : [...ARMS].reverse()
  for (const kind of KINDS)
    for (const arm of order) {
      console.error(
        `round ${r + 1}/${ROUNDS}: ${kind} ${arm}, ${PAGES} pages (${((Date.now() - started) / 1000).toFixed(0)} s in)`
      )
      runs.push(await runArm(arm, kind, r))
    }
}

const chromium = browser.version()
await browser.close()
await Promise.all([edge.stop(), tracker.stop(), origin.close()])
if (!FULL) {
  // A subset of arms or kinds: a look into them, not a result to keep.
  for (const r of runs) console.log(JSON.stringify({ arm: r.arm, kind: r.kind, round: r.round, ...summarize(r) }))
  process.exit(0)
}

const medians = (arm: Arm, kind: Kind): Record<string, number> => {
  const s = runs.filter(x => x.arm === arm && x.kind === kind).map(summarize)
  return Object.fromEntries(Object.keys(s[0]!).map(k => [k, median(s.map(x => x[k]!))]))
}
const results = Object.fromEntries(
  (['live', 'vod'] as const).map(kind => [kind, Object.fromEntries(ARMS.map(arm => [arm, medians(arm, kind)]))])
) as Record<Kind, Record<Arm, Record<string, number>>>
const goals = Object.fromEntries(
  (['live', 'vod'] as const).map(kind => {
    const r = results[kind]
    return [
      kind,
      {
        p2pSharePointsOverPml: 100 * (r.ours.p2pShare! - r.pml.p2pShare!),
        stalledRatioToPml: r.ours.stalledSPerPage! / r.pml.stalledSPerPage!,
        stalledSecondsMinusPml: r.ours.stalledSPerPage! - r.pml.stalledSPerPage!,
        startupRatioToHttp: r.ours.startupMs! / r.http.startupMs!
      }
    ]
  })
) as unknown as Record<Kind, Record<string, number>>

const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a')
const pct = (n: number): string => `${(100 * n).toFixed(1)}%`
const NAMES: Record<Arm, string> = {
  ours: 'ours (P2PCDN.hlsjs)',
  pml: 'p2p-media-loader-hlsjs 2.3.1',
  http: 'hls.js over HTTP'
}
const table = (kind: Kind): string =>
  markdownTable(
    [
      'arm',
      'P2P share',
      'edge MiB',
      'stalls/page',
      'stalled s/page',
      'startup ms',
      'first frame ms',
      'played s/page',
      'pages never playing'
    ],
    ARMS.map(arm => {
      const x = results[kind][arm]
      return [
        NAMES[arm],
        pct(x.p2pShare!),
        fmt(x.edgeMiB!, 1),
        fmt(x.stallsPerPage!),
        fmt(x.stalledSPerPage!, 1),
        fmt(x.startupMs!, 0),
        fmt(x.firstFrameMs!, 0),
        fmt(x.playedSPerPage!, 1),
        fmt(x.pagesNeverPlaying!, 0)
      ]
    })
  )
const goalLine = (kind: Kind): string => {
  const g = goals[kind]
  return `ours P2P share − pml's: **${fmt(g.p2pSharePointsOverPml!, 1)} points** (goal ≥ +10); ours stalled s/page vs pml's: **${fmt(results[kind].ours.stalledSPerPage!, 1)} vs ${fmt(results[kind].pml.stalledSPerPage!, 1)}** (goal ≤); ours startup / HTTP only: **${fmt(g.startupRatioToHttp!)}x** (goal ≤ 1.2x).`
}

const md = `## bench:video${flags['pml-as-shipped'] ? ' (p2p-media-loader as shipped: no segment copy)' : ''}: ${PAGES} pages ${STAGGER_MS / 1000} s apart, ${WATCH_S} s each, HLS ${fmt((stream.bytesPerSec * 8) / 1e6)} Mbit/s (${SEGMENT_SECONDS} s MPEG-TS segments), edge capped at ${fmt(EDGE_CAP / 2 ** 20)} MiB/s, ${ROUNDS} rounds (medians)

### Live (window of ${LIVE_WINDOW} segments, one new every ${SEGMENT_SECONDS} s)

${table('live')}

${goalLine('live')}

### VOD (${VOD_SEGMENTS} segments, ${VOD_SEGMENTS * SEGMENT_SECONDS} s)

${table('vod')}

${goalLine('vod')}

P2P share: segment bytes from peers over segment bytes from the network, as each library counts them (ours: \`cdn.stats().streams.bench\`; pml: \`onChunkDownloaded\`). Edge MiB: all the run's bytes the edge sent (segments, playlists, manifests; the SDK script apart), from its access log. Stalls, stalled time and startup (loadSource() to the first 'playing') are measured by the same page code in every arm.${flags['pml-as-shipped'] ? '' : " p2p-media-loader (defaults but for the tracker, the swarm id and no STUN) hands hls.js a copy of each segment here: as shipped, hls.js's worker detaches the buffer pml keeps for its peers, who then get 0-byte segments (`--pml-as-shipped` runs it so)."}

Machine: ${JSON.stringify(machine({ chromium }))}`

await writeResults(flags['pml-as-shipped'] ? 'video-pml-as-shipped' : 'video', md, {
  pmlCopySegments: !flags['pml-as-shipped'],
  bench: 'video',
  pages: PAGES,
  rounds: ROUNDS,
  edgeCapBytesPerSec: EDGE_CAP,
  watchSeconds: WATCH_S,
  staggerMs: STAGGER_MS,
  streamBitsPerSec: stream.bytesPerSec * 8,
  segmentSeconds: SEGMENT_SECONDS,
  liveWindow: LIVE_WINDOW,
  vodSegments: VOD_SEGMENTS,
  results,
  goals,
  runs: runs.map(r => ({ arm: r.arm, kind: r.kind, round: r.round, ...summarize(r), edgeBytes: r.edge })),
  pageErrors: runs
    .flatMap(r => r.pages.flatMap(p => p.errors.map(e => `${r.kind} ${r.arm} r${r.round + 1}: ${e}`)))
    .slice(0, 50),
  machine: machine({ chromium })
})
process.exit(0)
