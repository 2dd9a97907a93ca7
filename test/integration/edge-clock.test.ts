/**
 * The edge's clock (`EdgeInit.now`) decides freshness and Age: with a fake clock a stored
 * page goes from fresh to stale without the test sleeping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEdge } from '../../edge/src/index.js'
import type { Edge } from '../../edge/src/index.js'
import { startOrigin } from '../helpers/origin.js'
import type { TestOrigin } from '../helpers/origin.js'

let origin: TestOrigin
let edge: Edge
let now = Date.now()

beforeAll(async () => {
  origin = await startOrigin({
    '/ten.txt': { body: 'fresh for ten seconds', headers: { 'Cache-Control': 'max-age=10' } }
  })
  edge = createEdge({ origin: origin.url, port: 0, now: () => now })
  await edge.start()
})

afterAll(async () => {
  await edge.stop()
  await origin.close()
})

async function get(path: string): Promise<{ cache: string | null; age: string | null }> {
  const res = await fetch(edge.url + path)
  await res.arrayBuffer()
  return { cache: res.headers.get('x-cache'), age: res.headers.get('age') }
}

describe('edge clock', () => {
  it('serves from cache while the injected clock says fresh, and goes to the origin once it says stale', async () => {
    expect((await get('/ten.txt')).cache).toBe('MISS')
    now += 6000
    expect(await get('/ten.txt')).toEqual({ cache: 'HIT', age: '6' })
    expect(origin.requests.get('/ten.txt')).toBe(1)
    now += 5000
    expect((await get('/ten.txt')).cache).not.toBe('HIT')
    expect(origin.requests.get('/ten.txt')).toBe(2)
  })
})
