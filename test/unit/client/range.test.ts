import { describe, expect, it } from 'vitest'
import { chunksOf, parseRange } from '../../../client/src/range.js'

describe('parseRange', () => {
  it('reads the three single-range forms', () => {
    expect(parseRange('bytes=10-19', 100)).toEqual({ start: 10, end: 20 })
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 100 })
    expect(parseRange('bytes=-5', 100)).toEqual({ start: 95, end: 100 })
    expect(parseRange('bytes=-500', 100)).toEqual({ start: 0, end: 100 })
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 100 })
  })

  it('ignores what it does not honour, answers unsatisfiable past the end', () => {
    expect(parseRange(null, 100)).toBeUndefined()
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined()
    expect(parseRange('items=0-1', 100)).toBeUndefined()
    expect(parseRange('bytes=20-10', 100)).toBeUndefined()
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable')
  })
})

describe('chunksOf', () => {
  it('covers exactly the chunks the bytes lie in', () => {
    expect(chunksOf({ start: 0, end: 1 }, 10)).toEqual({ first: 0, last: 0 })
    expect(chunksOf({ start: 9, end: 11 }, 10)).toEqual({ first: 0, last: 1 })
    expect(chunksOf({ start: 10, end: 20 }, 10)).toEqual({ first: 1, last: 1 })
  })
})
