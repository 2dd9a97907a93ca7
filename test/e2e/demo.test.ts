/**
 * `npm start`'s demo opened in three tabs of one browser: later tabs take the large file
 * from earlier ones, and every figure the page shows equals `cdn.stats()` and the
 * tracker's `/stats`. Screenshots of each tab go to test-results/.
 */
import { mkdir } from 'node:fs/promises'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright'
import { silentLogger } from '../../protocol/src/index.js'
import { SAMPLE_PATH, startDemo, type Demo } from '../../examples/demo/main.js'
import { launchChromium } from '../helpers/chromium.js'

const SAMPLE_BYTES = 8 * 1024 * 1024

let demo: Demo
let browser: Browser

beforeAll(async () => {
  demo = await startDemo({ port: 0, trackerPort: 0, edgePorts: [0, 0], host: '127.0.0.1', logger: silentLogger })
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await demo?.stop()
})

/** Re-render, then read the DOM and the SDK's stats in the same instant. */
async function shownAndStats(tab: Page): Promise<any> {
  return await tab.evaluate(async path => {
    const w = window as any
    const text = (id: string): string => document.getElementById(id)?.textContent ?? ''
    // Read what the page shows in the same task as the stats it rendered: the video keeps
    // loading, and a render after an await would show newer figures.
    const stats = w.demo.renderStats()
    const row = [...document.querySelectorAll('#resources tr')].find(tr => tr.firstElementChild?.textContent === path)
    const shown = {
      offload: text('offload'),
      peerCount: Number(text('peer-count')),
      peersListed: document.querySelectorAll('#peers li').length,
      edge: text('edge'),
      region: text('region'),
      sample: Object.fromEntries(
        ['cache', 'peer', 'edge', 'origin'].map(k => [k, row?.querySelector(`.src-${k}`)?.textContent])
      ),
      chartAreas: document.querySelectorAll('#chart polygon').length,
      images: document.querySelectorAll('img[src^="blob:"]').length
    }
    const tracker = await w.demo.renderTracker()
    return {
      stats,
      tracker,
      shown: {
        ...shown,
        regions: Object.fromEntries(
          [...document.querySelectorAll('#tracker-regions tr')].map(tr => [
            tr.getAttribute('data-region'),
            Number(tr.querySelector('.count')?.textContent)
          ])
        ),
        edges: [...document.querySelectorAll('#tracker-edges tr')].map(tr => tr.getAttribute('data-edge'))
      }
    }
  }, SAMPLE_PATH)
}

it('shows live figures equal to cdn.stats() and the tracker, with peer bytes from the second tab on', async () => {
  await mkdir('test-results', { recursive: true })
  const context = await browser.newContext({ viewport: { width: 1100, height: 1100 } })
  const tabs: Page[] = []
  for (let i = 0; i < 3; i++) {
    const tab = await context.newPage()
    await tab.goto(demo.pageUrl)
    await tab.waitForFunction(() => (window as any).demoDone === true, undefined, { timeout: 30_000 })
    tabs.push(tab)
  }
  const trackerStats = await (await fetch(`${demo.trackerHttpUrl}/stats`)).json()
  const seen = await Promise.all(tabs.map(shownAndStats))
  // Both edges are on this machine, so each tab's measured region may be eu or us; the
  // tracker must count exactly the regions the tabs report.
  const regionsOfTabs: Record<string, number> = {}
  for (const { stats } of seen) regionsOfTabs[stats.region] = (regionsOfTabs[stats.region] ?? 0) + 1
  for (const [i, tab] of tabs.entries()) {
    const { stats, tracker, shown } = seen[i]
    await tab.screenshot({ path: `test-results/demo-tab-${i + 1}.png`, fullPage: true })
    const sample = stats.resources[new URL(SAMPLE_PATH, demo.pageUrl).href]
    expect(shown.images).toBe(3)
    expect(shown.offload).toBe(`${(stats.offload * 100).toFixed(1)}%`)
    expect(shown.peerCount).toBe(stats.peers.length)
    expect(shown.peersListed).toBe(stats.peers.length)
    expect(shown.edge).toBe(stats.edge)
    expect(shown.region).toBe(stats.region)
    for (const k of ['cache', 'peer', 'edge', 'origin'])
      expect(shown.sample[k]).toBe(`${(sample[k] / 1024).toFixed(1)} KiB`)
    expect(shown.chartAreas).toBe(4)
    // The tracker panel shows what the tracker reports: the three tabs by region, both edges.
    expect(shown.regions).toEqual(tracker.peersByRegion)
    expect(tracker.peersByRegion).toEqual(trackerStats.peersByRegion)
    expect(trackerStats.peersByRegion).toEqual(regionsOfTabs)
    expect([...shown.edges].sort()).toEqual([...demo.edgeUrls].sort())
    if (i === 0) expect(sample.edge).toBeGreaterThan(SAMPLE_BYTES)
    else expect(sample.peer).toBeGreaterThan(0.5 * SAMPLE_BYTES)
  }
  await context.close()
})

it('plays its video through hls.js and the SDK; the second tab takes segments from the first; the line shown equals stats()', async () => {
  expect(demo.noVideo).toBeUndefined() // ffmpeg is installed here (.ci/run does it)
  const context = await browser.newContext({ viewport: { width: 1100, height: 1100 } })
  const tabs: Page[] = []
  for (let i = 0; i < 2; i++) {
    const tab = await context.newPage()
    await tab.goto(demo.pageUrl)
    await tab.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).currentTime > 4, undefined, {
      timeout: 30_000
    })
    tabs.push(tab)
  }
  await tabs[1]!.screenshot({ path: 'test-results/demo-video.png', fullPage: true })
  for (const [i, tab] of tabs.entries()) {
    const { line, shown } = await tab.evaluate(() => {
      const w = window as any
      const s = w.cdn.stats().streams.demo
      w.demo.renderVideo()
      return { line: s, shown: document.getElementById('video-stats')?.textContent ?? '' }
    })
    expect(shown).toContain(`segments: ${line.segments} · from peers: ${(line.offload * 100).toFixed(1)}%`)
    expect(line.stalls).toBe(0)
    if (i === 1) expect(line.bytes.peer).toBeGreaterThan(0.5 * (line.bytes.peer + line.bytes.edge))
  }
  await context.close()
})
