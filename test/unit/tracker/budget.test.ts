/** Budgets: a bucket serves its burst, then as much again in debt, then refuses; free answers expire. */
import { describe, expect, it } from 'vitest'
import { AnswerCredits, createBucket, hasRoom, refill } from '../../../tracker/src/budget.js'

describe('Bucket', () => {
  it('has room for burst messages, as many again in debt, and refills by whole tokens', () => {
    const bucket = createBucket(3, 0)
    let served = 0
    while (hasRoom(bucket, 3) && served < 100) {
      bucket.level--
      served++
    }
    expect(served).toBe(6)
    expect(bucket.level).toBe(-3)
    refill(bucket, 500, 1, 3)
    expect(hasRoom(bucket, 3)).toBe(false)
    refill(bucket, 1000, 1, 3)
    expect(hasRoom(bucket, 3)).toBe(true)
    refill(bucket, 60_000, 1, 3)
    expect(bucket.level).toBe(3)
  })

  it('ignores a clock that goes backwards', () => {
    const bucket = createBucket(5, 1000)
    bucket.level = 0
    refill(bucket, 500, 10, 5)
    expect(bucket).toEqual({ level: 0, atMs: 1000 })
  })
})

describe('AnswerCredits', () => {
  it('grants one answer per offer, for one to two windows, up to a cap', () => {
    const credits = new AnswerCredits()
    expect(credits.any).toBe(false)
    expect(credits.take(0, 100)).toBe(false)
    credits.grant(10, 100, 1000)
    credits.grant(20, 100, 1000)
    expect(credits.take(30, 100)).toBe(true)
    // Still good in the next window.
    expect(credits.take(150, 100)).toBe(true)
    expect(credits.take(160, 100)).toBe(false)
    credits.grant(170, 100, 1000)
    // Two windows later it has expired.
    expect(credits.take(400, 100)).toBe(false)
    for (let i = 0; i < 10; i++) credits.grant(500, 100, 3)
    let taken = 0
    while (credits.take(510, 100) && taken < 100) taken++
    expect(taken).toBe(3)
  })
})
