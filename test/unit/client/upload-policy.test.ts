import { describe, expect, it } from 'vitest'
import { UploadBucket, uploadAllowed } from '../../../client/src/upload-policy.js'

describe('uploadAllowed', () => {
  it('respects the page, saveData and cellular', () => {
    expect(uploadAllowed(true, undefined)).toBe(true)
    expect(uploadAllowed(false, undefined)).toBe(false)
    expect(uploadAllowed(true, { saveData: true })).toBe(false)
    expect(uploadAllowed(true, { type: 'cellular' })).toBe(false)
    expect(uploadAllowed(true, { type: 'wifi', saveData: false })).toBe(true)
  })
})

describe('UploadBucket', () => {
  it('lets one second of bytes through, then makes the rest wait at the cap', () => {
    let now = 0
    const bucket = new UploadBucket(1000, () => now)
    expect(bucket.reserve(1000)).toBe(0)
    expect(bucket.reserve(500)).toBe(500)
    now = 500
    expect(bucket.reserve(500)).toBe(500)
    now = 10_000 // tokens never exceed one second's worth
    expect(bucket.reserve(1000)).toBe(0)
    expect(bucket.reserve(100)).toBe(100)
  })

  it('0 means no cap', () => {
    expect(new UploadBucket(0).reserve(1e9)).toBe(0)
  })
})
