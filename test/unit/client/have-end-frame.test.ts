import { describe, expect, it } from 'vitest'
import { decodeFrame, encodeFrame, FrameType } from '../../../protocol/src/index.js'

describe('HAVE_END, the wire addition behind the shorter peer wait', () => {
  it('is one byte and round-trips', () => {
    const bytes = encodeFrame({ type: FrameType.HAVE_END })
    expect([...bytes]).toEqual([FrameType.HAVE_END])
    expect(decodeFrame(bytes)).toEqual({ type: FrameType.HAVE_END })
  })

  it('rejects trailing bytes', () => {
    expect(() => decodeFrame(Uint8Array.of(FrameType.HAVE_END, 0))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_MESSAGE' })
    )
  })
})
