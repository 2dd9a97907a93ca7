/**
 * `npm run bench:latency`: does the SDK make a page slower than a plain fetch? The same
 * resource loaded by `cdn.fetch` and by a plain `fetch` from the same edge, each in a
 * fresh browser context, per scenario: a first visitor (warm edge, cold edge), a second
 * visitor with a connected peer holding it, and a visitor whose swarm has one member
 * that never connects. Reported as medians and as the median of paired ratios cdn/plain.
 *
 * Flags: --runs N (default 7, at most 15), --budget-s S (per scenario, default 120:
 * after 3 runs a scenario stops once it has taken this long).
 */
import { execSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import type { Browser, BrowserContext } from 'playwright'
import { createEdge } from '../../edge/src/index.js'
import { createTracker } from '../../tracker/src/index.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { launchChromium } from '../../test/helpers/chromium.js'
import { startOrigin } from '../../test/helpers/origin.js'
import { binaryId, connectRaw, isAnnounceReply, isOffer } from '../../test/helpers/tracker-client.js'
import { machine, markdownTable, median, writeResults } from '../common/report.js'
import {
  createIn,
  openPage,
  plainFetchIn,
  sdkFetchIn,
  waitForStats,
  type RequestSpan,
  type SdkTimed,
  type Timed
} from './pages.js'

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    'budget-s': { type: 'string', default: '120' }
  }
})
const RUNS = Math.min(15, Math.max(1, Number(flags.runs)))
const BUDGET_MS = Number(flags['budget-s']) * 1000
/** Fewer runs than this and a median says little; the budget never cuts below it. */
const MIN_RUNS = Math.min(3, RUNS)
/** One run (its pages, swarm forming, both loads) fails rather than hang past this. */
const RUN_TIMEOUT_MS = 60_000
/** B connecting to A: the e2e tests allow 8 s for a slow connection on a busy machine. */
const CONNECT_DEADLINE_MS = 15_000

/** Other work on the machine skews absolute times (ratios within a run much less): recorded with the results. */
const loadAtStart = loadavg()[0]!

const SIZES = { small: 30 * 1024, large: 8 * 1024 * 1024 } as const
type SizeName = keyof typeof SIZES
const pathOf = (size: SizeName): string => `/media/${size}.bin`
const bodies = Object.fromEntries(
  Object.entries(SIZES).map(([name, n]) => [name, deterministicBytes(n, `latency-${name}`)])
) as Record<SizeName, Uint8Array>
const hashes = Object.fromEntries(
  Object.entries(bodies).map(([name, b]) => [name, createHash('sha256').update(b).digest('hex')])
) as Record<SizeName, string>

const origin = await startOrigin(
  Object.fromEntries(
    (Object.keys(SIZES) as SizeName[]).map(name => [
      pathOf(name),
      {
        body: bodies[name],
        type: 'application/octet-stream',
        headers: { 'Cache-Control': 'public, max-age=3600' }
      }
    ])
  )
)
origin.files['/blank.html'] = { body: '<!doctype html><title>bench latency</title>', type: 'text/html' }
const tracker = createTracker({ port: 0, edgeToken: 'bench' })
await tracker.start()
const edge = createEdge({ origin: origin.url, port: 0, region: 'eu', tracker: tracker.url, edgeToken: 'bench' })
await edge.start()
const browser: Browser = await launchChromium()
const PAGE_URL = `${origin.url}/blank.html`
const SDK_URL = `${edge.url}/p2pcdn.js`

/** The tracker key of a swarm, derived as the SDK derives it: SHA-256(name)[0..20) as a binary string. */
function infoHashOf(swarm: string): string {
  return String.fromCharCode(...createHash('sha256').update(swarm).digest().subarray(0, 20))
}

interface Pair {
  cdn: SdkTimed
  plain: Timed
  /** Which of the two loaded first (they alternate, so neither always meets a warmer machine). */
  cdnFirst: boolean
  note?: string
}

interface Scenario {
  key: string
  title: string
  size: SizeName
  /** True when the SDK's window opens before `P2PCDN.create` (ready is inside it). */
  includesCreate: boolean
  run: (n: number, cdnFirst: boolean, track: (c: BrowserContext) => void) => Promise<Pair>
}

let swarmSeq = 0
const freshSwarm = (tag: string): string => `latency-${tag}-${++swarmSeq}-${process.pid}`

/** cdn and plain in two fresh pages, in the given order; `path` may differ per side (cold edge). */
async function twoFreshPages(
  track: (c: BrowserContext) => void,
  cdnFirst: boolean,
  cdnUrl: string,
  plainUrl: string,
  init: Record<string, unknown>
): Promise<{ cdn: SdkTimed; plain: Timed }> {
  const cdnSide = async (): Promise<SdkTimed> => {
    const { context, page } = await openPage(browser, PAGE_URL, SDK_URL)
    track(context)
    return await sdkFetchIn(page, cdnUrl, init)
  }
  const plainSide = async (): Promise<Timed> => {
    const { context, page } = await openPage(browser, PAGE_URL, SDK_URL)
    track(context)
    return await plainFetchIn(page, plainUrl)
  }
  if (cdnFirst) {
    const cdn = await cdnSide()
    return { cdn, plain: await plainSide() }
  }
  const plain = await plainSide()
  return { cdn: await cdnSide(), plain }
}

function firstVisitor(size: SizeName, cold: boolean): Scenario {
  return {
    key: `first-${cold ? 'cold' : 'warm'}-${size}`,
    title: `(a) first visitor, ${cold ? 'cold' : 'warm'} edge`,
    size,
    includesCreate: true,
    async run(n, cdnFirst, track) {
      // Cold: a query string nobody asked for yet, per side, so both are an edge's first fill.
      const q = (side: string): string => (cold ? `?cold=${side}-${n}-${process.pid}` : '')
      const init = { tracker: tracker.url, swarm: freshSwarm('first'), edges: [edge.url] }
      const got = await twoFreshPages(
        track,
        cdnFirst,
        `${origin.url}${pathOf(size)}${q('cdn')}`,
        `${edge.url}${pathOf(size)}${q('plain')}`,
        init
      )
      return { ...got, cdnFirst }
    }
  }
}

function connectedPeer(size: SizeName): Scenario {
  return {
    key: `peer-${size}`,
    title: '(b) second visitor, connected peer holds it',
    size,
    includesCreate: false,
    async run(_n, cdnFirst, track) {
      const init = { tracker: tracker.url, swarm: freshSwarm('peer'), edges: [edge.url] }
      const url = `${origin.url}${pathOf(size)}`
      const a = await openPage(browser, PAGE_URL, SDK_URL)
      track(a.context)
      await sdkFetchIn(a.page, url, init)
      // A announces what it holds only once the chunks are stored.
      await waitForStats(a.page, 'A holding the resource', 10_000, s => s.cache.bytes >= SIZES[size])
      const b = await openPage(browser, PAGE_URL, SDK_URL)
      track(b.context)
      await createIn(b.page, init)
      await waitForStats(b.page, 'B connected to A', CONNECT_DEADLINE_MS, s => s.peers.length >= 1)
      const plainUrl = `${edge.url}${pathOf(size)}`
      if (cdnFirst) {
        const cdn = await sdkFetchIn(b.page, url)
        return { cdn, plain: await plainFetchIn(b.page, plainUrl), cdnFirst }
      }
      const plain = await plainFetchIn(b.page, plainUrl)
      return { cdn: await sdkFetchIn(b.page, url), plain, cdnFirst }
    }
  }
}

function silentMember(size: SizeName): Scenario {
  return {
    key: `silent-${size}`,
    title: '(c) first visitor, swarm has a member that never connects',
    size,
    includesCreate: true,
    async run(_n, cdnFirst, track) {
      const swarm = freshSwarm('silent')
      const fake = await connectRaw(tracker.url)
      try {
        // Announced and then mute: it takes offers and answers none, as a dead tab or a Sybil id would.
        fake.send({
          action: 'announce',
          info_hash: infoHashOf(swarm),
          peer_id: binaryId(),
          event: 'started',
          numwant: 0,
          offers: []
        })
        await fake.next(isAnnounceReply, 5000)
        const path = pathOf(size)
        const got = await twoFreshPages(track, cdnFirst, `${origin.url}${path}`, `${edge.url}${path}`, {
          tracker: tracker.url,
          swarm,
          edges: [edge.url]
        })
        const offered = fake.inbox.some(isOffer)
        return { ...got, cdnFirst, ...(offered ? {} : { note: 'the fake member received no offer' }) }
      } finally {
        await fake.close()
      }
    }
  }
}

async function withTimeout<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([p, timeout])
  } finally {
    clearTimeout(timer)
  }
}

interface ScenarioResult {
  scenario: Scenario
  pairs: Pair[]
  failures: string[]
}

async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const pairs: Pair[] = []
  const failures: string[] = []
  const started = Date.now()
  // Run 0 is a warm-up, thrown away: it fills the edge (warm scenarios) and wakes the JITs.
  for (let n = 0; n <= RUNS; n++) {
    if (n > MIN_RUNS && Date.now() - started > BUDGET_MS) break
    const contexts: BrowserContext[] = []
    try {
      const pair = await withTimeout(
        `${s.key} run ${n}`,
        RUN_TIMEOUT_MS,
        s.run(n, n % 2 === 0, c => contexts.push(c))
      )
      for (const [side, t] of [
        ['cdn', pair.cdn],
        ['plain', pair.plain]
      ] as const) {
        if (t.sha256 !== hashes[s.size]) throw new Error(`${side} received ${t.size} wrong bytes`)
      }
      if (n === 0) continue
      pairs.push(pair)
      const src = Object.entries(pair.cdn.bytes)
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')
      console.error(
        `  ${s.key} ${n}/${RUNS}: cdn ${pair.cdn.totalMs.toFixed(0)} ms (ready ${pair.cdn.readyMs?.toFixed(0) ?? '-'}, response ${pair.cdn.responseMs.toFixed(0)}; ${src}) plain ${pair.plain.totalMs.toFixed(0)} ms${pair.note === undefined ? '' : ` [${pair.note}]`}`
      )
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err)
      if (n > 0) failures.push(msg)
      console.error(`  ${s.key} run ${n} failed: ${msg}`)
    } finally {
      for (const c of contexts) await c.close().catch(() => {})
    }
  }
  return { scenario: s, pairs, failures }
}

const scenarios: Scenario[] = []
for (const size of Object.keys(SIZES) as SizeName[]) {
  scenarios.push(firstVisitor(size, false), firstVisitor(size, true), connectedPeer(size), silentMember(size))
}
const results: ScenarioResult[] = []
for (const s of scenarios) {
  console.error(`${s.title}, ${s.size}`)
  results.push(await runScenario(s))
}

const loadAtEnd = loadavg()[0]!
const chromium = browser.version()
await browser.close()
await Promise.all([edge.stop(), tracker.stop(), origin.close()])

/** When the first of the SDK's requests matching `match` started or ended, median over the runs that made one. */
function requestEnd(pairs: Pair[], match: (r: RequestSpan) => boolean, which: 'start' | 'end'): number {
  return median(pairs.map(p => p.cdn.requests.find(match)?.[which]).filter((v): v is number => v !== undefined))
}

interface Summary {
  key: string
  title: string
  size: SizeName
  runs: number
  failures: string[]
  cdnMs: number
  plainMs: number
  /** Median of cdn/plain per pair: the machine's mood of that moment cancels out. */
  pairedRatio: number
  ratioOfMedians: number
  cdnAfterReadyMs: number
  breakdown: Record<string, number>
  bytesFrom: Record<string, number>
}

/** When the first tracker-socket event matching `match` happened, median over the runs that saw one. */
function socketAt(pairs: Pair[], match: (what: string) => boolean): number {
  return median(pairs.map(p => p.cdn.socket.find(e => match(e.what))?.at).filter((v): v is number => v !== undefined))
}

/** A median over the runs that have the value (a missing request or chunk is left out, not counted as NaN). */
const med = (values: number[]): number => median(values.filter(Number.isFinite))

function summarize({ scenario: s, pairs, failures }: ScenarioResult): Summary {
  const cdnMs = med(pairs.map(p => p.cdn.totalMs))
  const plainMs = med(pairs.map(p => p.plain.totalMs))
  const sources = ['cache', 'peer', 'edge', 'origin'] as const
  return {
    key: s.key,
    title: s.title,
    size: s.size,
    runs: pairs.length,
    failures,
    cdnMs,
    plainMs,
    pairedRatio: med(pairs.map(p => p.cdn.totalMs / p.plain.totalMs)),
    ratioOfMedians: cdnMs / plainMs,
    cdnAfterReadyMs: s.includesCreate ? med(pairs.map(p => p.cdn.totalMs - (p.cdn.readyMs ?? NaN))) : NaN,
    breakdown: {
      readyMs: s.includesCreate ? med(pairs.map(p => p.cdn.readyMs ?? NaN)) : NaN,
      pingEndMs: requestEnd(pairs, r => r.path.startsWith('/_p2pcdn/ping'), 'end'),
      manifestStartMs: requestEnd(pairs, r => r.path.startsWith('/_p2pcdn/manifest'), 'start'),
      manifestEndMs: requestEnd(pairs, r => r.path.startsWith('/_p2pcdn/manifest'), 'end'),
      responseMs: med(pairs.map(p => p.cdn.responseMs)),
      // Between the manifest's arrival and the Response: the wait for peers, in each run.
      peerWaitMs: med(
        pairs.map(
          p => p.cdn.responseMs - (p.cdn.requests.find(r => r.path.startsWith('/_p2pcdn/manifest'))?.end ?? NaN)
        )
      ),
      wsOpenMs: socketAt(pairs, w => w === 'open'),
      edgesReplyMs: socketAt(pairs, w => w.startsWith('in p2pcdn:edges')),
      announceSentMs: socketAt(pairs, w => w.startsWith('out announce started')),
      announceReplyMs: socketAt(pairs, w => w.startsWith('in announce') && w.endsWith('reply')),
      offersSent: med(
        pairs.map(p =>
          Number(
            /offers=(\d+)/.exec(p.cdn.socket.find(e => e.what.startsWith('out announce started'))?.what ?? '')?.[1] ??
              NaN
          )
        )
      ),
      firstChunkMs: med(pairs.map(p => p.cdn.chunks[0]?.at ?? NaN)),
      firstChunkTookMs: med(pairs.map(p => p.cdn.chunks[0]?.ms ?? NaN)),
      firstByteMs: med(pairs.map(p => p.cdn.firstByteMs)),
      totalMs: cdnMs,
      plainResponseMs: med(pairs.map(p => p.plain.responseMs)),
      plainTotalMs: plainMs
    },
    bytesFrom: Object.fromEntries(sources.map(k => [k, med(pairs.map(p => p.cdn.bytes[k]))]))
  }
}

const summaries = results.map(summarize)
const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '–')
const sizeLabel = (s: SizeName): string => (s === 'small' ? '30 KiB' : '8 MiB')
const mainSource = (b: Record<string, number>): string =>
  Object.entries(b)
    .filter(([, v]) => v > 0)
    .map(([k]) => k)
    .join('+') || '–'
let commit = 'unknown'
let dirty = false
try {
  commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim()
  dirty = execSync('git status --porcelain -- client protocol edge tracker', { encoding: 'utf8' }).trim() !== ''
} catch {}

const md = `## bench:latency: cdn.fetch vs plain fetch from the same edge (medians of ${RUNS} runs)

Measured commit ${commit}${dirty ? ' (with uncommitted changes under client/, protocol/, edge/ or tracker/)' : ''}. Loopback origin, edge and tracker; each side in a fresh browser context. Load average (1 min) at start / end: ${loadAtStart.toFixed(1)} / ${loadAtEnd.toFixed(1)}.
The SDK's time runs from just before \`P2PCDN.create\` (scenarios a, c) or from \`cdn.fetch\` (b: the instance is ready and connected) to the last body byte; plain is \`fetch(edge + path)\` to the last byte.

${markdownTable(
  [
    'scenario',
    'size',
    'runs',
    'cdn ms',
    'plain ms',
    'cdn / plain (paired)',
    'ratio of medians',
    'cdn after ready ms',
    'SDK bytes from'
  ],
  summaries.map(s => [
    s.title,
    sizeLabel(s.size),
    s.failures.length === 0 ? String(s.runs) : `${s.runs} (${s.failures.length} failed)`,
    fmt(s.cdnMs),
    fmt(s.plainMs),
    `**${fmt(s.pairedRatio, 1)}x**`,
    `${fmt(s.ratioOfMedians, 1)}x`,
    fmt(s.cdnAfterReadyMs),
    mainSource(s.bytesFrom)
  ])
)}

Goal: cdn / plain ≤ 1 everywhere (the SDK never makes a page slower than a plain fetch).

### Where the SDK's time goes (ms from the start of its window, medians)

${markdownTable(
  [
    'scenario',
    'size',
    'ready',
    'ping end',
    'manifest start',
    'manifest end',
    'fetch resolved',
    'of which peer wait',
    'first chunk delivered',
    'first chunk took',
    'first body byte',
    'last byte',
    'plain: response',
    'plain: last byte'
  ],
  summaries.map(s => {
    const b = s.breakdown
    return [
      s.title,
      sizeLabel(s.size),
      fmt(b.readyMs!),
      fmt(b.pingEndMs!),
      fmt(b.manifestStartMs!),
      fmt(b.manifestEndMs!),
      fmt(b.responseMs!),
      fmt(b.peerWaitMs!),
      fmt(b.firstChunkMs!),
      fmt(b.firstChunkTookMs!),
      fmt(b.firstByteMs!),
      fmt(b.totalMs!),
      fmt(b.plainResponseMs!),
      fmt(b.plainTotalMs!)
    ]
  })
)}

"ready" is \`cdn.ready\` (storage open, edges pinged, the tracker's edge list); "fetch resolved" is when \`cdn.fetch\` gave its Response: after the manifest and the wait for peers ("of which peer wait": from the manifest's arrival to the Response, per run). Request times are the browser's Resource Timing entries of the SDK's own requests.

### The tracker socket in the same window (first visitors: scenarios a and c; ms, medians)

${markdownTable(
  [
    'scenario',
    'size',
    'socket open',
    'edge list reply',
    'ready',
    'first announce sent',
    'offers in it',
    'announce reply',
    'fetch resolved'
  ],
  summaries
    .filter(s => scenarios.find(x => x.key === s.key)?.includesCreate === true)
    .map(s => {
      const b = s.breakdown
      return [
        s.title,
        sizeLabel(s.size),
        fmt(b.wsOpenMs!),
        fmt(b.edgesReplyMs!),
        fmt(b.readyMs!),
        fmt(b.announceSentMs!),
        fmt(b.offersSent!),
        fmt(b.announceReplyMs!),
        fmt(b.responseMs!)
      ]
    })
)}

Seen by wrapping the page's \`WebSocket\` (an init script), not from inside the SDK.
${
  summaries.some(s => s.failures.length > 0)
    ? `\nFailed runs: ${summaries
        .filter(s => s.failures.length > 0)
        .map(s => `${s.key}: ${s.failures.join('; ')}`)
        .join(' | ')}\n`
    : ''
}
Machine: ${JSON.stringify(machine({ chromium }))}`

await writeResults('latency', md, {
  bench: 'latency',
  commit,
  dirty,
  loadAverage: { start: loadAtStart, end: loadAtEnd },
  runs: RUNS,
  sizes: SIZES,
  summaries,
  runsDetail: results.map(r => ({
    key: r.scenario.key,
    pairs: r.pairs.map(p => ({
      cdnFirst: p.cdnFirst,
      note: p.note,
      plain: { totalMs: p.plain.totalMs, responseMs: p.plain.responseMs, firstByteMs: p.plain.firstByteMs },
      cdn: {
        totalMs: p.cdn.totalMs,
        readyMs: p.cdn.readyMs,
        responseMs: p.cdn.responseMs,
        firstByteMs: p.cdn.firstByteMs,
        bytes: p.cdn.bytes,
        errors: p.cdn.errors,
        chunks: p.cdn.chunks.slice(0, 4),
        requests: p.cdn.requests.slice(0, 4),
        socket: p.cdn.socket.slice(0, 8)
      }
    }))
  })),
  machine: machine({ chromium })
})
process.exit(0)
