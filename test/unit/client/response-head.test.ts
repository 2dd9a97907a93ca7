import { describe, expect, it } from 'vitest'
import { responseHead } from '../../../client/src/response-head.js'

const manifest = { size: 1000, type: 'video/mp4', etag: '"v1"' }

describe('responseHead', () => {
  it('200 with the whole resource without Range', () => {
    expect(responseHead(manifest, null)).toEqual({
      status: 200,
      headers: { 'Content-Type': 'video/mp4', 'Accept-Ranges': 'bytes', ETag: '"v1"', 'Content-Length': '1000' },
      want: { start: 0, end: 1000 }
    })
  })

  it('206 with Content-Range for a single range', () => {
    const head = responseHead(manifest, 'bytes=100-199')
    expect(head.status).toBe(206)
    expect(head.headers['Content-Range']).toBe('bytes 100-199/1000')
    expect(head.headers['Content-Length']).toBe('100')
    expect(head.want).toEqual({ start: 100, end: 200 })
  })

  it('416 past the end; no ETag header for an empty validator', () => {
    const head = responseHead({ ...manifest, etag: '' }, 'bytes=1000-')
    expect(head.status).toBe(416)
    expect(head.headers['Content-Range']).toBe('bytes */1000')
    expect(head.headers.ETag).toBeUndefined()
  })
})
