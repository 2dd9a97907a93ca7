import { PassThrough } from 'node:stream'
import type { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { startLiveFill, UNSTORED_WINDOW_BYTES } from '../../../edge/src/live-fill.js'
import type { LiveFillInit } from '../../../edge/src/live-fill.js'
import { createMemoryBudget } from '../../../edge/src/memory-budget.js'

const KiB = 1024
const base: LiveFillInit['base'] = {
  key: '/a',
  variant: '',
  vary: [],
  url: 'http://o/a',
  status: 200,
  headers: {},
  responseTime: 0,
  initialAgeS: 0,
  lifetimeS: 60,
  heuristic: false,
  noCache: false,
  mustRevalidate: false,
  staleWhileRevalidateS: 0,
  staleIfErrorS: 0,
  shared: true,
  dropFields: []
}

function fill(
  body: Readable,
  declared: number | undefined,
  budgetBytes: number,
  maxObjectBytes = 1024 * KiB
): { fill: ReturnType<typeof startLiveFill>; budget: ReturnType<typeof createMemoryBudget> } {
  const budget = createMemoryBudget(budgetBytes)
  if (declared !== undefined) expect(budget.reserve(declared)).toBe(true)
  return {
    fill: startLiveFill({
      body,
      declared,
      base,
      budget,
      chunkSize: 16 * KiB,
      maxObjectBytes,
      etag: '"e"',
      type: 'application/octet-stream'
    }),
    budget
  }
}

async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of r) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

const bytes = (n: number, seed = 1): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff))

describe('live fill', () => {
  it('stores a declared body in the buffer it reserved, and every reader gets all of it', async () => {
    const origin = new PassThrough()
    const { fill: f, budget } = fill(origin, 200 * KiB, 1024 * KiB)
    const early = readAll(f.open())
    const want = bytes(200 * KiB)
    origin.write(want.subarray(0, 100 * KiB))
    const late = readAll(f.open())
    origin.end(want.subarray(100 * KiB))
    const entry = await f.stored
    expect(entry.body.equals(want)).toBe(true)
    expect(entry.manifest?.size).toBe(200 * KiB)
    expect((await early).equals(want)).toBe(true)
    expect((await late).equals(want)).toBe(true)
    // The store charges the entry from here; the fill holds nothing in the budget.
    expect(budget.reserved).toBe(0)
  })

  it('never stores a body shorter than its Content-Length, and its readers see the failure', async () => {
    const origin = new PassThrough()
    const { fill: f, budget } = fill(origin, 100, 1024 * KiB)
    const reader = readAll(f.open())
    origin.end(bytes(60))
    await expect(f.stored).rejects.toThrow(/60 of 100/)
    await expect(reader).rejects.toThrow()
    expect(budget.reserved).toBe(0)
  })

  it('stops storing past maxObjectBytes, holds only a window ahead of a reader that does not read, and pauses the origin', async () => {
    const origin = new PassThrough({ highWaterMark: 16 * KiB })
    const { fill: f, budget } = fill(origin, undefined, 1024 * KiB, 64 * KiB)
    const reader = f.open()
    reader.pause()
    const chunk = bytes(16 * KiB)
    let written = 0
    // Write until the origin side pushes back (bounded: 64 MiB at most).
    while (written < 64 * 1024 * KiB && origin.write(chunk)) written += chunk.length
    await new Promise(resolve => setImmediate(resolve))
    await expect(f.stored).rejects.toThrow(/maxObjectBytes/)
    expect(f.tooBig).toBe(true)
    expect(f.joinable).toBe(false)
    expect(written).toBeLessThan(UNSTORED_WINDOW_BYTES + 256 * KiB)
    expect(budget.reserved).toBeLessThanOrEqual(64 * KiB)
    // The reader reads on: the fill lets go of what it passed and the origin flows again.
    const rest = readAll(reader)
    reader.resume()
    origin.end()
    expect((await rest).length).toBeGreaterThanOrEqual(written)
    expect(budget.reserved).toBe(0)
  })

  it('stops storing when the memory budget has no room, and still streams to its reader', async () => {
    const origin = new PassThrough()
    const { fill: f, budget } = fill(origin, undefined, 32 * KiB)
    const reader = readAll(f.open())
    const want = bytes(100 * KiB, 7)
    origin.end(want)
    await expect(f.stored).rejects.toThrow(/no memory/)
    expect((await reader).equals(want)).toBe(true)
    expect(budget.reserved).toBe(0)
  })
})
