/**
 * `npm run bench:swarm`: the offload a swarm of real Chromium pages gets in front of a
 * busy (rate-capped) edge, P2P on against P2P off in the same run, plus a two-region run.
 * The region edges fill from one shield edge (`parent`) in front of the origin, so the
 * origin serves one copy however many regions ask.
 *
 * Flags: --pages N (default 10, at most 20), --rounds N (default 2), --edge-cap BYTES/s
 * (default 4 MiB/s), --size BYTES (default 16 MiB).
 */
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import type { Browser } from 'playwright'
import { createEdge, type Edge } from '../../edge/src/index.js'
import { createTracker } from '../../tracker/src/index.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { launchChromium } from '../../test/helpers/chromium.js'
import { startOrigin } from '../../test/helpers/origin.js'
import { machine, markdownTable, median, quantile, writeResults } from '../common/report.js'
import { loadInPage, openSdkPage, rawChannelMiBps, type PageInit, type PageRun } from './pages.js'

const { values: flags } = parseArgs({
  options: {
    pages: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    'edge-cap': { type: 'string', default: String(4 * 1024 * 1024) },
    size: { type: 'string', default: String(16 * 1024 * 1024) }
  }
})
const PAGES = Math.min(20, Math.max(2, Number(flags.pages)))
const ROUNDS = Math.min(5, Math.max(1, Number(flags.rounds)))
const EDGE_CAP = Number(flags['edge-cap'])
const SIZE = Number(flags.size)
const STAGGER_MS = 1000
/** Raw-channel and SDK transfers measured per round, each pair in fresh pages. */
const PIPE_SAMPLES = 5
const FILE = '/media/bench.bin'

const body = deterministicBytes(SIZE, 'bench-swarm')
const sha256 = createHash('sha256').update(body).digest('hex')
const origin = await startOrigin({
  [FILE]: { body, type: 'application/octet-stream', headers: { 'Cache-Control': 'public, max-age=3600' } }
})
origin.files['/blank.html'] = { body: '<!doctype html><title>bench</title>', type: 'text/html' }
const tracker = createTracker({ port: 0, edgeToken: 'bench' })
await tracker.start()
// Not on the tracker and not capped: pages never reach it, only the region edges do.
const shield = createEdge({ origin: origin.url, port: 0, region: 'shield' })
await shield.start()
const startEdge = async (region: string): Promise<Edge> => {
  const edge = createEdge({
    origin: origin.url,
    parent: shield.url,
    port: 0,
    region,
    tracker: tracker.url,
    edgeToken: 'bench',
    maxBytesPerSec: EDGE_CAP
  })
  await edge.start()
  return edge
}
const eu = await startEdge('eu')
const us = await startEdge('us')
const browser: Browser = await launchChromium()

interface SwarmRun {
  mode: 'p2p' | 'edge-only' | 'two-region'
  pages: PageRun[]
  originBytes: number
  edgeBytes: number
}

let runId = 0
/** Pages join `STAGGER_MS` apart and each loads the resource at once. */
async function runSwarm(mode: SwarmRun['mode'], regions: string[]): Promise<SwarmRun> {
  const id = ++runId
  // A fresh URL per run: the edge starts cold, so the origin should serve one copy.
  const resource = `${FILE}?run=${id}`
  const originBefore = origin.bytesServed
  const edgeBefore = eu.stats().bytesServed + us.stats().bytesServed
  const contexts = []
  const loads: Array<Promise<PageRun>> = []
  for (const region of regions) {
    const init: PageInit = {
      pageUrl: `${origin.url}/blank.html`,
      sdkUrl: `${eu.url}/p2pcdn.js`,
      tracker: tracker.url,
      swarm: `bench-${id}`,
      region,
      edges: [region === 'us' ? us.url : eu.url],
      p2p: mode !== 'edge-only',
      resource
    }
    const joined = Date.now()
    const { context, page } = await openSdkPage(browser, init)
    contexts.push(context)
    loads.push(loadInPage(page, init))
    await new Promise(resolve => setTimeout(resolve, Math.max(0, STAGGER_MS - (Date.now() - joined))))
  }
  const pages = await Promise.all(loads)
  for (const c of contexts) await c.close()
  for (const p of pages) if (p.sha256 !== sha256) throw new Error(`a page in run ${id} received wrong bytes`)
  // Per page on stderr: where each page's bytes came from, in MiB, and its completion time.
  const mib = (n: number): string => (n / 2 ** 20).toFixed(1)
  for (const [i, p] of pages.entries())
    console.error(
      `  page ${i + 1} ${p.region}: peer ${mib(p.bytes.peer)} edge ${mib(p.bytes.edge)} origin ${mib(p.bytes.origin)} MiB in ${(p.completeMs / 1000).toFixed(1)} s`
    )
  return {
    mode,
    pages,
    originBytes: origin.bytesServed - originBefore,
    edgeBytes: eu.stats().bytesServed + us.stats().bytesServed - edgeBefore
  }
}

function summarize(run: SwarmRun): Record<string, number> {
  const sum = (k: 'peer' | 'edge' | 'origin' | 'cache'): number => run.pages.reduce((n, p) => n + p.bytes[k], 0)
  const received = sum('peer') + sum('edge') + sum('origin')
  const completes = run.pages.map(p => p.completeMs)
  return {
    offload: sum('peer') / received,
    originCopies: run.originBytes / SIZE,
    edgeMiB: run.edgeBytes / 2 ** 20,
    completeMedianS: median(completes) / 1000,
    completeP90S: quantile(completes, 0.9) / 1000,
    ttfbMedianMs: median(run.pages.map(p => p.ttfbMs))
  }
}

/**
 * Share of peer bytes that came from a peer of another region (the regions are the
 * pages' own, matched by peer id): over the whole run, and counting only chunks received
 * while the receiver's region had two or more peers.
 */
function crossRegionShare(run: SwarmRun, field: 'bytesByPeer' | 'bytesByPeerWhileLocal'): number {
  const regionOf = new Map(run.pages.map(p => [p.peerId, p.region]))
  let cross = 0
  let all = 0
  for (const p of run.pages) {
    for (const [peer, bytes] of Object.entries(p[field])) {
      all += bytes
      if (regionOf.get(peer) !== p.region) cross += bytes
    }
  }
  return all === 0 ? 0 : cross / all
}

/** Raw data channel vs the SDK between two pages, in MiB/s. */
async function throughput(): Promise<{ rawMiBps: number; sdkMiBps: number }> {
  const id = ++runId
  const init = (p2p: boolean): PageInit => ({
    pageUrl: `${origin.url}/blank.html`,
    sdkUrl: `${eu.url}/p2pcdn.js`,
    tracker: tracker.url,
    swarm: `throughput-${id}`,
    region: 'eu',
    edges: [eu.url],
    p2p,
    resource: `${FILE}?run=${id}`
  })
  const a = await openSdkPage(browser, init(true))
  const b = await openSdkPage(browser, init(true))
  const rawMiBps = await rawChannelMiBps(a.page, b.page, SIZE)
  await loadInPage(a.page, init(true))
  const run = await loadInPage(b.page, init(true))
  await a.context.close()
  await b.context.close()
  if (run.bytes.peer < 0.9 * SIZE) throw new Error(`throughput run took only ${run.bytes.peer} bytes from the peer`)
  return { rawMiBps, sdkMiBps: SIZE / 2 ** 20 / ((run.completeMs - run.ttfbMs) / 1000 || 1) }
}

const single: SwarmRun[] = []
const pipes: Array<{ rawMiBps: number; sdkMiBps: number }> = []
for (let r = 0; r < ROUNDS; r++) {
  // A B A B ... and B A on odd rounds, so neither mode always runs on a warmer machine.
  const order: Array<SwarmRun['mode']> = r % 2 === 0 ? ['p2p', 'edge-only'] : ['edge-only', 'p2p']
  for (const mode of order) {
    console.error(`round ${r + 1}/${ROUNDS}: ${mode}, ${PAGES} pages`)
    single.push(
      await runSwarm(
        mode,
        Array.from({ length: PAGES }, () => 'eu')
      )
    )
  }
  // Two pages on two busy cores make single transfers noisy: several samples per round.
  for (let i = 0; i < PIPE_SAMPLES; i++) {
    const pipe = await throughput()
    pipes.push(pipe)
    console.error(`pipe sample: raw ${pipe.rawMiBps.toFixed(1)} MiB/s, SDK ${pipe.sdkMiBps.toFixed(1)} MiB/s`)
  }
}
console.error('two regions: 5 eu + 5 us')
const twoRegion = await runSwarm(
  'two-region',
  Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? 'eu' : 'us'))
)

const chromium = browser.version()
await browser.close()
await Promise.all([eu.stop(), us.stop(), tracker.stop()])
await shield.stop()
await origin.close()

const byMode = (mode: SwarmRun['mode']): Record<string, number> => {
  const runs = single.filter(s => s.mode === mode).map(summarize)
  return Object.fromEntries(Object.keys(runs[0]!).map(k => [k, median(runs.map(r => r[k]!))]))
}
const p2p = byMode('p2p')
const edgeOnly = byMode('edge-only')
const raw = median(pipes.map(p => p.rawMiBps))
const sdk = median(pipes.map(p => p.sdkMiBps))
// Each SDK sample against the raw sample taken just before it, on the same two pages:
// the machine's mood of that moment cancels out, which the ratio of medians cannot do.
const paired = median(pipes.map(p => p.sdkMiBps / p.rawMiBps))
const two = summarize(twoRegion)
const cross = crossRegionShare(twoRegion, 'bytesByPeer')
const crossWhileLocal = crossRegionShare(twoRegion, 'bytesByPeerWhileLocal')
const fmt = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : 'n/a')
const pct = (n: number): string => `${(100 * n).toFixed(1)}%`

const md = `## bench:swarm: ${PAGES} pages, ${SIZE / 2 ** 20} MiB, edge capped at ${EDGE_CAP / 2 ** 20} MiB/s, ${ROUNDS} rounds (medians)

${markdownTable(
  ['mode', 'offload', 'origin copies', 'edge MiB', 'complete median s', 'complete p90 s', 'TTFB median ms'],
  [
    [
      'P2P on',
      pct(p2p.offload!),
      fmt(p2p.originCopies!),
      fmt(p2p.edgeMiB!, 1),
      fmt(p2p.completeMedianS!),
      fmt(p2p.completeP90S!),
      fmt(p2p.ttfbMedianMs!, 0)
    ],
    [
      'edge only',
      pct(edgeOnly.offload!),
      fmt(edgeOnly.originCopies!),
      fmt(edgeOnly.edgeMiB!, 1),
      fmt(edgeOnly.completeMedianS!),
      fmt(edgeOnly.completeP90S!),
      fmt(edgeOnly.ttfbMedianMs!, 0)
    ]
  ]
)}

Median completion, P2P on / edge only: **${fmt(p2p.completeMedianS! / edgeOnly.completeMedianS!)}x** (goal ≤ 0.5x). Offload goal ≥ 85%.

${markdownTable(
  ['pipe', 'MiB/s'],
  [
    ['raw RTCDataChannel (anchor)', fmt(raw, 1)],
    ['SDK peer to peer', fmt(sdk, 1)],
    ['ratio of the medians', fmt(sdk / raw)],
    ['median of the paired ratios', fmt(paired)]
  ]
)}

${pipes.length} pipe samples (raw / SDK MiB/s): ${pipes.map(p => `${fmt(p.rawMiBps, 1)} / ${fmt(p.sdkMiBps, 1)}`).join(', ')}. Goal ≥ 0.8.

### Two regions: 5 pages in eu, 5 in us, one capped edge each, both behind one shield edge

${markdownTable(
  [
    'offload',
    'origin copies',
    'edge MiB',
    'complete median s',
    'peer bytes across regions',
    'the same while the region had ≥ 2 peers (goal 0)'
  ],
  [
    [
      pct(two.offload!),
      fmt(two.originCopies!),
      fmt(two.edgeMiB!, 1),
      fmt(two.completeMedianS!),
      pct(cross),
      pct(crossWhileLocal)
    ]
  ]
)}

Both regions' edges fill from one shield edge (\`--parent\`), which alone fills from the origin: one origin copy for two regions (2.00 without the shield). Edge MiB counts the region edges only.

Machine: ${JSON.stringify(machine({ chromium }))}`

await writeResults('swarm', md, {
  bench: 'swarm',
  pages: PAGES,
  sizeBytes: SIZE,
  edgeCapBytesPerSec: EDGE_CAP,
  rounds: ROUNDS,
  p2p,
  edgeOnly,
  completionRatio: p2p.completeMedianS! / edgeOnly.completeMedianS!,
  rawChannelMiBps: raw,
  sdkPeerMiBps: sdk,
  sdkToRawRatio: sdk / raw,
  sdkToRawPairedRatio: paired,
  pipeSamples: pipes,
  twoRegion: { ...two, crossRegionPeerShare: cross, crossRegionPeerShareWhileLocal: crossWhileLocal },
  machine: machine({ chromium })
})
process.exit(0)
