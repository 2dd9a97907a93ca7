/** EdgeRegistry: expiry of silent edges (including a heartbeat that comes too late), and claims that never evict. */
import { expect, it } from 'vitest'
import { EdgeRegistry } from '../../../tracker/src/edge-registry.js'

const load = { connections: 1, bytesPerSec: 2, hitRatio: 0.5 }
const edge = { id: undefined, url: 'https://eu.example', region: 'eu', capacity: 0 }

it('lists an edge while it reports load, and sweeps it once silent', () => {
  const registry = new EdgeRegistry<string>(300)
  expect(registry.claim('conn', edge, 0)).toBeUndefined()
  expect(registry.register('conn', edge, 0)).toBe(true)
  expect(registry.reportLoad('conn', load, 250)).toBe(true)
  expect(registry.list(undefined, 500).map(e => e.url)).toEqual([edge.url])
  expect(registry.sweep(551).map(e => e.url)).toEqual([edge.url])
  expect(registry.size).toBe(0)
})

it('refuses a load report that comes after the silence, and forgets the edge', () => {
  const registry = new EdgeRegistry<string>(300)
  registry.claim('conn', edge, 0)
  registry.register('conn', edge, 0)
  expect(registry.list(undefined, 301)).toEqual([])
  expect(registry.reportLoad('conn', load, 301)).toBe(false)
  expect(registry.has('conn')).toBe(false)
  registry.claim('conn', edge, 302)
  registry.register('conn', edge, 302)
  expect(registry.list(undefined, 302).map(e => e.url)).toEqual([edge.url])
})

it('refuses a claim of a live URL or id from another handle, and never evicts the live entry', () => {
  const registry = new EdgeRegistry<string>(300)
  const a = { id: 'a', url: 'https://a.example', region: 'eu', capacity: 0 }
  expect(registry.claim('one', a, 0)).toBeUndefined()
  // Pending claims count too: a second socket cannot race the first's challenge.
  expect(registry.claim('two', a, 0)).toMatch(/being registered/)
  expect(registry.register('one', a, 0)).toBe(true)
  expect(registry.claim('two', a, 10)).toMatch(/already registered/)
  expect(registry.claim('two', { id: 'a', url: 'https://a2.example' }, 10)).toMatch(/edge "a" is already registered/)
  expect(registry.register('two', a, 10)).toBe(false)
  expect(registry.list(undefined, 10).map(e => e.url)).toEqual([a.url])
  // Once the live entry is gone (silent past its limit, or its socket closed), the URL is free.
  expect(registry.claim('two', a, 301)).toBeUndefined()
  expect(registry.has('one')).toBe(false)
  registry.remove('two')
  expect(registry.claim('three', a, 302)).toBeUndefined()
})

it('holds an id on up to maxPerId handles', () => {
  const registry = new EdgeRegistry<string>(300, 2)
  for (const [handle, url] of [
    ['one', 'https://a1.example'],
    ['two', 'https://a2.example']
  ] as const) {
    expect(registry.claim(handle, { id: 'a', url }, 0)).toBeUndefined()
    registry.register(handle, { id: 'a', url, region: 'eu', capacity: 0 }, 0)
  }
  expect(registry.claim('three', { id: 'a', url: 'https://a3.example' }, 0)).toMatch(/2 other connections/)
  expect(registry.register('three', { id: 'a', url: 'https://a3.example', region: 'eu', capacity: 0 }, 0)).toBe(false)
})
