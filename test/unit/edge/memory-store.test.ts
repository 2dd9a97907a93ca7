import { describe, expect, it } from 'vitest'
import { createMemoryStore, ENTRY_OVERHEAD_BYTES, entryCost } from '../../../edge/src/cache/memory-store.js'
import type { CacheEntry } from '../../../edge/src/cache/store.js'
import { createMemoryBudget } from '../../../edge/src/memory-budget.js'

const entry = (key: string, size: number): CacheEntry => ({
  key,
  variant: '',
  vary: [],
  url: `http://o${key}`,
  status: 200,
  headers: { 'content-type': 'text/plain' },
  body: Buffer.alloc(size),
  manifest: undefined,
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
})

describe('memory store', () => {
  it('charges each entry its body and metadata, so tiny entries are bounded too', async () => {
    const budget = createMemoryBudget(100 * 1024)
    const evicted: string[] = []
    const store = createMemoryStore({ budget, maxEntries: 1000, onEvict: id => evicted.push(id) })
    expect(entryCost(entry('/t', 0))).toBeGreaterThan(ENTRY_OVERHEAD_BYTES)
    for (let i = 0; i < 500; i++) await store.put(entry(`/t${i}`, 0))
    // 500 empty bodies do not fit in 100 KiB once their metadata is counted.
    expect(store.size).toBeLessThan(50)
    expect(store.bytes).toBeLessThanOrEqual(100 * 1024)
    expect(evicted.length).toBe(500 - store.size)
    expect(store.has('/t499')).toBe(true)
    expect(store.has('/t0')).toBe(false)
  })

  it('keeps at most maxEntries', async () => {
    const store = createMemoryStore({ budget: createMemoryBudget(1024 * 1024 * 1024), maxEntries: 10 })
    for (let i = 0; i < 30; i++) await store.put(entry(`/n${i}`, 10))
    expect(store.size).toBe(10)
  })

  it('gives way to fills in flight: a reservation evicts least recently used entries', async () => {
    const budget = createMemoryBudget(64 * 1024)
    const store = createMemoryStore({ budget, maxEntries: 1000 })
    await store.put(entry('/old', 20 * 1024))
    await store.put(entry('/new', 20 * 1024))
    store.peek('/old')
    expect(budget.reserve(30 * 1024)).toBe(true)
    expect(store.has('/new')).toBe(false)
    expect(store.has('/old')).toBe(true)
    expect(store.bytes + budget.reserved).toBeLessThanOrEqual(64 * 1024)
    // More than the whole budget is refused, and takes nothing.
    expect(budget.reserve(64 * 1024)).toBe(false)
    expect(budget.reserved).toBe(30 * 1024)
    // An entry larger than the room left is not kept.
    await store.put(entry('/huge', 40 * 1024))
    expect(store.has('/huge')).toBe(false)
  })
})
