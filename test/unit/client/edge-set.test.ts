import { describe, expect, it } from 'vitest'
import { EdgeSet } from '../../../client/src/edge-set.js'

describe('EdgeSet', () => {
  it('sets a failing edge aside for retryMs, then uses it again', () => {
    let now = 0
    const set = new EdgeSet(
      [
        { url: 'https://near', region: 'eu', rttMs: 5 },
        { url: 'https://far', region: 'us', rttMs: 50 }
      ],
      1000,
      () => now
    )
    expect(set.chosen?.url).toBe('https://near')
    set.failed('https://near')
    expect(set.usable().map(e => e.url)).toEqual(['https://far'])
    set.failed('https://far')
    expect(set.usable()).toEqual([]) // the origin is next
    now = 1000
    expect(set.usable().map(e => e.url)).toEqual(['https://near', 'https://far'])
    set.failed('https://near')
    set.succeeded('https://near')
    expect(set.chosen?.url).toBe('https://near')
  })
})
