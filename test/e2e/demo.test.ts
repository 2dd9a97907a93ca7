/** `npm start`'s demo, opened in two tabs of one browser: the second tab shows peer bytes. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Browser } from 'playwright'
import { silentLogger } from '../../protocol/src/index.js'
import { SAMPLE_PATH, startDemo, type Demo } from '../../examples/demo/main.js'
import { launchChromium } from '../helpers/chromium.js'

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

it('shows edge bytes in the first tab and peer bytes in the second', async () => {
  const context = await browser.newContext()
  const tabs = [await context.newPage(), await context.newPage()]
  const rows = []
  for (const tab of tabs) {
    await tab.goto(demo.pageUrl)
    await tab.waitForFunction(() => (window as any).demoDone === true, undefined, { timeout: 30_000 })
    // The table is what the visitor sees; read the row of the large file from it.
    rows.push(await tab.evaluate((path) => {
      const row = [...document.querySelectorAll('#resources tr')].find(tr => tr.firstElementChild?.textContent === path)
      const kib = (k: string): number => parseFloat(row?.querySelector(`.src-${k}`)?.textContent ?? 'NaN')
      const stats = (window as any).cdn.stats()
      const bytes = stats.resources[new URL(path, location.href).href]
      return { shown: { peer: kib('peer'), edge: kib('edge') }, bytes, images: document.querySelectorAll('img[src^="blob:"]').length }
    }, SAMPLE_PATH))
  }
  const [first, second] = rows
  expect(first!.images).toBe(3)
  expect(second!.images).toBe(3)
  expect(first!.bytes.edge).toBeGreaterThan(8 * 1024 * 1024)
  expect(second!.bytes.peer).toBeGreaterThan(0.9 * 8 * 1024 * 1024)
  expect(second!.shown.peer).toBeCloseTo(second!.bytes.peer / 1024, 1)
  await context.close()
})
