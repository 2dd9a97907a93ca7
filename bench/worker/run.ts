/**
 * `npm run bench:worker`: what service-worker mode costs a plain page. The same 16 MiB
 * MP4 in a plain `<video src>`, and the same PNG in a plain `<img src>`, loaded by a
 * first visitor (fresh browser context, warm edge) two ways: through the worker and the
 * SDK (the site's own URL), and straight from the same edge over the plain network. Time
 * to the first video frame, to `canplaythrough`, and an image's time to first byte
 * (Resource Timing), all from navigation start; medians and the median of the paired
 * ratios worker/plain.
 *
 * Flags: --runs N (default 7, at most 15), --seconds S (video length, default 64: about 16 MiB).
 */
import { execSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import type { Page } from 'playwright'
import { IMAGES, MOVIE, controlled, startSwSite, type SwSite } from '../../test/e2e/support/sw-site.js'
import { machine, markdownTable, median, writeResults } from '../common/report.js'

const { values: flags } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, seconds: { type: 'string', default: '64' } }
})
const RUNS = Math.min(15, Math.max(1, Number(flags.runs)))
const SECONDS = Math.max(4, Number(flags.seconds))
/** One page load fails rather than hang past this. */
const LOAD_TIMEOUT_MS = 60_000
const loadAtStart = loadavg()[0]!

interface Load {
  firstFrameMs: number
  canPlayThroughMs: number
  imageTtfbMs: number
  imageLoadMs: number
}

type Arm = 'worker' | 'plain'

/** The timed page: its video and image in markup, every time taken from navigation start. */
function timedBody(video: string, image: string): string {
  return `<img id="img" src="${image}" width="320">
<video id="v" src="${video}" muted playsinline preload="auto"></video>
<script>
  const v = document.getElementById('v')
  window.timing = new Promise(resolve => {
    const t = {}
    const done = () => { if (t.firstFrameMs !== undefined && t.canPlayThroughMs !== undefined) resolve(t) }
    v.requestVideoFrameCallback((now) => { t.firstFrameMs = now; done() })
    v.addEventListener('canplaythrough', () => { t.canPlayThroughMs = performance.now(); done() }, { once: true })
    v.addEventListener('error', () => resolve({ error: 'video error ' + v.error?.code }))
  })
  v.play()
</script>`
}

async function timedLoad(page: Page, path: string, imageUrl: string): Promise<Load> {
  await page.goto(path)
  const t = (await page.evaluate(async () => await (globalThis as any).timing, undefined)) as Load & { error?: string }
  if (t.error !== undefined) throw new Error(t.error)
  const image = await page.evaluate(async url => {
    const img = document.getElementById('img') as HTMLImageElement
    await img.decode()
    const entry = performance.getEntriesByName(url)[0] as PerformanceResourceTiming | undefined
    return entry === undefined ? undefined : { ttfb: entry.responseStart, load: entry.responseEnd }
  }, imageUrl)
  if (image === undefined) throw new Error(`no resource timing for ${imageUrl}`)
  return { ...t, imageTtfbMs: image.ttfb, imageLoadMs: image.load }
}

async function run(site: SwSite, arm: Arm, i: number): Promise<Load> {
  const origin = site.env.origin.url
  const edge = site.env.edges[0]!.url
  const context = await site.env.browser.newContext()
  try {
    const page = await context.newPage()
    page.setDefaultTimeout(LOAD_TIMEOUT_MS)
    // A swarm of its own per run: a closed context's peer id must not hold this one's fetches.
    const extra = `data-swarm="bench-${arm}-${i}"`
    if (arm === 'worker') {
      site.page(`/home-${i}.html`, '<h1>home</h1>', { extra })
      site.page(`/timed-worker-${i}.html`, timedBody(MOVIE, IMAGES[0]), { extra })
      await page.goto(`${origin}/home-${i}.html`)
      await controlled(page)
      return await timedLoad(page, `${origin}/timed-worker-${i}.html`, `${origin}${IMAGES[0]}`)
    }
    site.page(`/timed-plain-${i}.html`, timedBody(`${edge}${MOVIE}`, `${edge}${IMAGES[0]}`), { extra, worker: false })
    return await timedLoad(page, `${origin}/timed-plain-${i}.html`, `${edge}${IMAGES[0]}`)
  } finally {
    await context.close()
  }
}

const site = await startSwSite({ seconds: SECONDS, kbps: 2100 })
const mib = site.movie.length / 2 ** 20
// Warm the edge: both arms read a cached copy.
for (const path of [MOVIE, IMAGES[0]]) await (await fetch(`${site.env.edges[0]!.url}${path}`)).arrayBuffer()

const pairs: Array<Record<Arm, Load>> = []
const failures: string[] = []
for (let i = 0; i < RUNS; i++) {
  // Alternate which arm goes first, so neither always meets a fresher machine.
  const order: Arm[] = i % 2 === 0 ? ['worker', 'plain'] : ['plain', 'worker']
  try {
    const pair: Partial<Record<Arm, Load>> = {}
    for (const arm of order) pair[arm] = await run(site, arm, i)
    pairs.push(pair as Record<Arm, Load>)
    console.log(`run ${i + 1}: ${JSON.stringify(pair)}`)
  } catch (err) {
    failures.push(`run ${i + 1}: ${(err as Error).message}`)
  }
}
await site.env.close()

const METRICS: Array<[keyof Load, string]> = [
  ['firstFrameMs', 'first video frame'],
  ['canPlayThroughMs', '`canplaythrough`'],
  ['imageTtfbMs', 'image time to first byte'],
  ['imageLoadMs', 'image loaded (responseEnd)']
]
const fmt = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : 'n/a')
const rows = METRICS.map(([key, label]) => {
  const worker = median(pairs.map(p => p.worker[key]))
  const plain = median(pairs.map(p => p.plain[key]))
  const ratio = median(pairs.map(p => p.worker[key] / p.plain[key]))
  return { key, label, worker, plain, ratio }
})
const commit = execSync('git rev-parse --short HEAD').toString().trim()
const dirty = execSync('git status --porcelain --untracked-files=no').toString().trim() !== ''
const loadAtEnd = loadavg()[0]!
const md = `# bench:worker

Service-worker mode against the plain network, same edge (warm), first visitor, fresh
browser context per load. A ${mib.toFixed(1)} MiB MP4 (${SECONDS} s, H.264 2.1 Mb/s +
AAC, moov first) in \`<video src>\`, a ${(site.env.origin.files[IMAGES[0]]!.body.length / 1024).toFixed(0)} KiB PNG
in \`<img src>\`; both in the page's markup. Worker: the site's URLs, served by the
worker through the page's SDK (from the edge). Plain: the edge's URLs, fetched by the
browser. Times in ms from navigation start; ${pairs.length} paired runs (order
alternated)${failures.length > 0 ? `, ${failures.length} failed` : ''}. Commit ${commit}${dirty ? ' (dirty)' : ''}, load
average ${loadAtStart.toFixed(2)} at start, ${loadAtEnd.toFixed(2)} at end.

${markdownTable(
  ['', 'worker (median)', 'plain (median)', 'worker / plain (median of paired ratios)'],
  rows.map(r => [r.label, fmt(r.worker), fmt(r.plain), `${r.ratio.toFixed(2)}x`])
)}
${failures.length > 0 ? `\nFailed runs: ${failures.join('; ')}\n` : ''}
Machine: ${JSON.stringify(machine())}`

await writeResults('worker', md, {
  bench: 'worker',
  commit,
  dirty,
  loadAverage: { start: loadAtStart, end: loadAtEnd },
  videoBytes: site.movie.length,
  seconds: SECONDS,
  runs: RUNS,
  rows,
  pairs,
  failures,
  machine: machine()
})
process.exit(0)
