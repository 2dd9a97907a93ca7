/** EdgeRegistry: expiry of silent edges, including a heartbeat that comes too late. */
import { expect, it } from 'vitest'
import { EdgeRegistry } from '../../../tracker/src/edge-registry.js'

const load = { connections: 1, bytesPerSec: 2, hitRatio: 0.5 }
const edge = { url: 'https://eu.example', region: 'eu', capacity: 0 }

it('lists an edge while it reports load, and sweeps it once silent', () => {
  const registry = new EdgeRegistry<string>(300)
  registry.register('conn', edge, 0)
  expect(registry.reportLoad('conn', load, 250)).toBe(true)
  expect(registry.list(undefined, 500).map(e => e.url)).toEqual([edge.url])
  expect(registry.sweep(551).map(e => e.url)).toEqual([edge.url])
  expect(registry.size).toBe(0)
})

it('refuses a load report that comes after the silence, and forgets the edge', () => {
  const registry = new EdgeRegistry<string>(300)
  registry.register('conn', edge, 0)
  expect(registry.list(undefined, 301)).toEqual([])
  expect(registry.reportLoad('conn', load, 301)).toBe(false)
  expect(registry.has('conn')).toBe(false)
  registry.register('conn', edge, 302)
  expect(registry.list(undefined, 302).map(e => e.url)).toEqual([edge.url])
})
