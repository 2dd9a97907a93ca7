import { describe, expect, it } from 'vitest'
import { Limiter } from '../../../client/src/limiter.js'

describe('Limiter', () => {
  it('holds at most max, serves waiters in order, releases once', async () => {
    const l = new Limiter(2)
    const a = await l.acquire()
    const b = await l.acquire()
    expect(l.idle).toBe(0)
    const order: string[] = []
    const c = l.acquire().then(r => {
      order.push('c')
      return r
    })
    const d = l.acquire().then(r => {
      order.push('d')
      return r
    })
    a()
    a() // a second release must not free another slot
    const rc = await c
    expect(order).toEqual(['c'])
    b()
    const rd = await d
    expect(order).toEqual(['c', 'd'])
    rc()
    rd()
    expect(l.idle).toBe(2)
  })

  it('an aborted waiter leaves the queue', async () => {
    const l = new Limiter(1)
    const held = await l.acquire()
    const abort = new AbortController()
    const waiting = l.acquire(abort.signal)
    abort.abort(new Error('gone'))
    await expect(waiting).rejects.toThrow('gone')
    held()
    expect(l.idle).toBe(1)
  })
})
