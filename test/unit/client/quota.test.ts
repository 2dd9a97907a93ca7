import { describe, expect, it } from 'vitest'
import { cacheLimit } from '../../../client/src/storage/quota.js'

const MIB = 1024 * 1024

describe('cacheLimit', () => {
  it('keeps cacheBytes when the quota is roomy or unknown', () => {
    expect(cacheLimit(256 * MIB, undefined, 0)).toBe(256 * MIB)
    expect(cacheLimit(256 * MIB, { quota: 10_000 * MIB, usage: 0 }, 0)).toBe(256 * MIB)
  })

  it('lowers it to half of what is free, counting our own bytes as free', () => {
    expect(cacheLimit(256 * MIB, { quota: 100 * MIB, usage: 60 * MIB }, 0)).toBe(20 * MIB)
    expect(cacheLimit(256 * MIB, { quota: 100 * MIB, usage: 60 * MIB }, 40 * MIB)).toBe(40 * MIB)
    expect(cacheLimit(256 * MIB, { quota: 100 * MIB, usage: 200 * MIB }, 0)).toBe(0)
  })
})
