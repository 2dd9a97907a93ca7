import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  bitfieldHas,
  bitfieldOf,
  DATA_HEADER_BYTES,
  decodeFrame,
  encodeFrame,
  FrameType,
  type Frame
} from '../../../protocol/src/wire.js'
import { DATA_FRAME_PAYLOAD_BYTES, MAX_FRAME_BYTES, RESOURCE_ID_BYTES } from '../../../protocol/src/constants.js'
import { expectCode } from './helpers.js'

const RID = 'a3f1' + '0123456789abcdef'.repeat(3) + '00ff09fe1c2d3e4f'.slice(0, 12)
const RID2 = 'ff'.repeat(32)

const roundTrip = (frame: Frame): Frame => decodeFrame(encodeFrame(frame))
const badFrame = (bytes: Uint8Array): void => {
  expectCode(() => decodeFrame(bytes), 'ERR_INVALID_MESSAGE')
}

function haveFrame(chunkCount: number, indices: number[], resourceId = RID): Frame {
  return { type: FrameType.HAVE, resourceId, chunkCount, bitfield: bitfieldOf(chunkCount, indices) }
}

describe('constants', () => {
  it('a full DATA frame fits in MAX_FRAME_BYTES', () => {
    expect(RID).toMatch(/^[0-9a-f]{64}$/)
    expect(DATA_HEADER_BYTES + DATA_FRAME_PAYLOAD_BYTES).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    expect(MAX_FRAME_BYTES).toBeLessThan(64 * 1024)
  })
})

describe('encodeFrame / decodeFrame round trip', () => {
  it('HANDSHAKE', () => {
    for (const version of [0, 1, 2, 255]) {
      const f: Frame = { type: FrameType.HANDSHAKE, version }
      const bytes = encodeFrame(f)
      expect(Array.from(bytes)).toEqual([1, version])
      expect(decodeFrame(bytes)).toEqual(f)
    }
  })

  it('HAVE with odd chunk counts', () => {
    for (const count of [0, 1, 7, 8, 9, 15, 16, 17, 1000, 1001]) {
      const indices = Array.from({ length: count }, (_, i) => i).filter(i => i % 3 === 0 || i === count - 1)
      const f = haveFrame(count, indices)
      const bytes = encodeFrame(f)
      expect(bytes.length).toBe(1 + RESOURCE_ID_BYTES + 4 + Math.ceil(count / 8))
      const back = roundTrip(f)
      expect(back).toEqual(f)
      const have = back as Extract<Frame, { type: 2 }>
      for (let i = 0; i < count; i++) expect(bitfieldHas(have.bitfield, i)).toBe(indices.includes(i))
    }
  })

  it('HAVE with all and none set', () => {
    for (const count of [1, 8, 9, 1000]) {
      const all = Array.from({ length: count }, (_, i) => i)
      expect(roundTrip(haveFrame(count, all, RID2))).toEqual(haveFrame(count, all, RID2))
      expect(roundTrip(haveFrame(count, []))).toEqual(haveFrame(count, []))
    }
  })

  it('HAVE wire layout: type, 32-byte id, u32 BE count, MSB-first bitfield', () => {
    const bytes = encodeFrame(haveFrame(9, [0, 8]))
    expect(bytes[0]).toBe(2)
    expect(Buffer.from(bytes.subarray(1, 33)).toString('hex')).toBe(RID)
    expect(Array.from(bytes.subarray(33, 37))).toEqual([0, 0, 0, 9])
    expect(Array.from(bytes.subarray(37))).toEqual([0x80, 0x80])
  })

  it('FETCHING has the layout of HAVE under its own type (17)', () => {
    const have = haveFrame(9, [0, 8]) as Extract<Frame, { type: 2 }>
    const f: Frame = { ...have, type: FrameType.FETCHING }
    const bytes = encodeFrame(f)
    expect(bytes[0]).toBe(17)
    expect(Array.from(bytes.subarray(1))).toEqual(Array.from(encodeFrame(have).subarray(1)))
    expect(decodeFrame(bytes)).toEqual(f)
    expect(() => decodeFrame(bytes.subarray(0, bytes.length - 1))).toThrow(/wrong length/)
  })

  it('REQUEST', () => {
    for (const [requestId, index] of [
      [0, 0],
      [1, 2],
      [0xffffffff, 0xffffffff],
      [123456, 789]
    ] as const) {
      const f: Frame = { type: FrameType.REQUEST, requestId, resourceId: RID, index }
      const bytes = encodeFrame(f)
      expect(bytes.length).toBe(1 + 4 + 32 + 4)
      expect(decodeFrame(bytes)).toEqual(f)
    }
    const bytes = encodeFrame({ type: FrameType.REQUEST, requestId: 0x01020304, resourceId: RID2, index: 0x0a0b0c0d })
    expect(Array.from(bytes.subarray(0, 5))).toEqual([3, 1, 2, 3, 4])
    expect(Array.from(bytes.subarray(37))).toEqual([0x0a, 0x0b, 0x0c, 0x0d])
  })

  it('DATA with empty, small, 60 KiB and maximal payloads', () => {
    const sizes = [0, 1, 1000, DATA_FRAME_PAYLOAD_BYTES, 60 * 1024, MAX_FRAME_BYTES - DATA_HEADER_BYTES]
    for (const size of sizes) {
      const payload = new Uint8Array(randomBytes(size))
      const f: Frame = { type: FrameType.DATA, requestId: 42, offset: 3 * 60 * 1024, bytes: payload }
      const bytes = encodeFrame(f)
      expect(bytes.length).toBe(DATA_HEADER_BYTES + size)
      const back = decodeFrame(bytes)
      expect(back).toEqual(f)
      expect(Buffer.from((back as Extract<Frame, { type: 4 }>).bytes).equals(Buffer.from(payload))).toBe(true)
    }
  })

  it('DATA header layout', () => {
    const bytes = encodeFrame({
      type: FrameType.DATA,
      requestId: 0xdeadbeef,
      offset: 0x00010203,
      bytes: Uint8Array.of(9, 8)
    })
    expect(Array.from(bytes)).toEqual([4, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 9, 8])
  })

  it('ABSENT and CANCEL', () => {
    for (const requestId of [0, 1, 0x7fffffff, 0xffffffff]) {
      const absent: Frame = { type: FrameType.ABSENT, requestId }
      const cancel: Frame = { type: FrameType.CANCEL, requestId }
      expect(encodeFrame(absent).length).toBe(5)
      expect(encodeFrame(absent)[0]).toBe(5)
      expect(encodeFrame(cancel)[0]).toBe(6)
      expect(roundTrip(absent)).toEqual(absent)
      expect(roundTrip(cancel)).toEqual(cancel)
    }
  })

  it('decodes frames that are subarrays of a bigger buffer (non-zero byteOffset)', () => {
    const frames: Frame[] = [
      { type: FrameType.HANDSHAKE, version: 1 },
      haveFrame(9, [1, 8]),
      { type: FrameType.REQUEST, requestId: 77, resourceId: RID, index: 5 },
      { type: FrameType.DATA, requestId: 78, offset: 61440, bytes: new Uint8Array(randomBytes(100)) },
      { type: FrameType.ABSENT, requestId: 79 },
      { type: FrameType.CANCEL, requestId: 80 }
    ]
    for (const f of frames) {
      const encoded = encodeFrame(f)
      for (const pad of [1, 3, 7]) {
        const big = new Uint8Array(pad + encoded.length + 5).fill(0xee)
        big.set(encoded, pad)
        const view = big.subarray(pad, pad + encoded.length)
        expect(view.byteOffset).toBe(pad)
        expect(decodeFrame(view)).toEqual(f)
      }
    }
    // a Node Buffer from the pool also has a non-zero byteOffset
    const buf = Buffer.from(encodeFrame({ type: FrameType.REQUEST, requestId: 1, resourceId: RID, index: 2 }))
    expect(decodeFrame(buf)).toEqual({ type: FrameType.REQUEST, requestId: 1, resourceId: RID, index: 2 })
  })

  it('decoded HAVE bitfield does not alias the input buffer', () => {
    const bytes = encodeFrame(haveFrame(8, [0]))
    const back = decodeFrame(bytes) as Extract<Frame, { type: 2 }>
    bytes[bytes.length - 1] = 0
    expect(bitfieldHas(back.bitfield, 0)).toBe(true)
  })
})

describe('decodeFrame: malformed', () => {
  const valid: Record<string, Uint8Array> = {
    handshake: encodeFrame({ type: FrameType.HANDSHAKE, version: 1 }),
    have: encodeFrame(haveFrame(9, [0])),
    request: encodeFrame({ type: FrameType.REQUEST, requestId: 1, resourceId: RID, index: 0 }),
    absent: encodeFrame({ type: FrameType.ABSENT, requestId: 1 }),
    cancel: encodeFrame({ type: FrameType.CANCEL, requestId: 1 })
  }

  it('rejects an empty frame', () => {
    badFrame(new Uint8Array(0))
  })

  it('rejects unknown frame types', () => {
    for (const t of [0, 7, 8, 0x7f, 0xff]) {
      badFrame(Uint8Array.of(t))
      badFrame(Uint8Array.of(t, 0, 0, 0, 1))
    }
  })

  it('rejects truncated frames of every type', () => {
    for (const bytes of Object.values(valid)) {
      for (let n = 1; n < bytes.length; n++) badFrame(bytes.subarray(0, n))
    }
    const data = encodeFrame({ type: FrameType.DATA, requestId: 1, offset: 0, bytes: new Uint8Array(0) })
    for (let n = 1; n < DATA_HEADER_BYTES; n++) badFrame(data.subarray(0, n))
  })

  it('rejects trailing bytes on fixed-size frames', () => {
    for (const bytes of Object.values(valid)) {
      const longer = new Uint8Array(bytes.length + 1)
      longer.set(bytes)
      badFrame(longer)
    }
  })

  it('rejects a HAVE whose bitfield is shorter or longer than its count', () => {
    const bytes = encodeFrame(haveFrame(1000, [1, 999]))
    badFrame(bytes.subarray(0, bytes.length - 1))
    const longer = new Uint8Array(bytes.length + 1)
    longer.set(bytes)
    badFrame(longer)
    // a count that claims far more chunks than the frame carries
    const lie = bytes.slice()
    new DataView(lie.buffer).setUint32(33, 0xffffffff)
    badFrame(lie)
    const lie2 = bytes.slice()
    new DataView(lie2.buffer).setUint32(33, 1001)
    badFrame(lie2)
  })

  it('rejects frames over MAX_FRAME_BYTES', () => {
    const big = new Uint8Array(MAX_FRAME_BYTES + 1)
    big[0] = FrameType.DATA
    badFrame(big)
    const huge = new Uint8Array(1 << 20)
    huge[0] = FrameType.DATA
    badFrame(huge)
    const exact = new Uint8Array(MAX_FRAME_BYTES)
    exact[0] = FrameType.DATA
    expect((decodeFrame(exact) as Extract<Frame, { type: 4 }>).bytes.length).toBe(MAX_FRAME_BYTES - DATA_HEADER_BYTES)
  })

  it('never throws anything but ERR_INVALID_MESSAGE on random input', () => {
    for (let i = 0; i < 2000; i++) {
      const len = i % 60
      const bytes = new Uint8Array(randomBytes(len))
      if (len > 0) bytes[0] = i % 8
      try {
        decodeFrame(bytes)
      } catch (err) {
        expect((err as { code?: string }).code).toBe('ERR_INVALID_MESSAGE')
      }
    }
  })
})

describe('encodeFrame: invalid input', () => {
  const expectTypeError = (fn: () => unknown): void => {
    expect(fn).toThrow(TypeError)
  }

  it('rejects bad resource ids', () => {
    for (const resourceId of [
      '',
      'ab',
      RID.slice(1),
      RID + '0',
      RID + '00',
      RID.toUpperCase(),
      'g' + RID.slice(1),
      ' ' + RID.slice(1)
    ]) {
      expectTypeError(() => encodeFrame({ type: FrameType.REQUEST, requestId: 1, resourceId, index: 0 }))
      expectTypeError(() =>
        encodeFrame({ type: FrameType.HAVE, resourceId, chunkCount: 1, bitfield: new Uint8Array(1) })
      )
    }
  })

  it('rejects a DATA payload that would exceed MAX_FRAME_BYTES', () => {
    expectTypeError(() =>
      encodeFrame({
        type: FrameType.DATA,
        requestId: 1,
        offset: 0,
        bytes: new Uint8Array(MAX_FRAME_BYTES - DATA_HEADER_BYTES + 1)
      })
    )
    expectTypeError(() =>
      encodeFrame({ type: FrameType.DATA, requestId: 1, offset: 0, bytes: new Uint8Array(256 * 1024) })
    )
    expect(
      encodeFrame({
        type: FrameType.DATA,
        requestId: 1,
        offset: 0,
        bytes: new Uint8Array(MAX_FRAME_BYTES - DATA_HEADER_BYTES)
      }).length
    ).toBe(MAX_FRAME_BYTES)
  })

  it('rejects a HAVE bitfield that does not match chunkCount, or too big for one frame', () => {
    expectTypeError(() =>
      encodeFrame({ type: FrameType.HAVE, resourceId: RID, chunkCount: 9, bitfield: new Uint8Array(1) })
    )
    expectTypeError(() =>
      encodeFrame({ type: FrameType.HAVE, resourceId: RID, chunkCount: 8, bitfield: new Uint8Array(2) })
    )
    const count = (MAX_FRAME_BYTES - 37 + 1) * 8
    expectTypeError(() =>
      encodeFrame({ type: FrameType.HAVE, resourceId: RID, chunkCount: count, bitfield: new Uint8Array(count / 8) })
    )
  })

  it('rejects non-u32 integers', () => {
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN, Infinity]) {
      expectTypeError(() => encodeFrame({ type: FrameType.REQUEST, requestId: bad, resourceId: RID, index: 0 }))
      expectTypeError(() => encodeFrame({ type: FrameType.REQUEST, requestId: 0, resourceId: RID, index: bad }))
      expectTypeError(() => encodeFrame({ type: FrameType.DATA, requestId: bad, offset: 0, bytes: new Uint8Array(1) }))
      expectTypeError(() => encodeFrame({ type: FrameType.DATA, requestId: 0, offset: bad, bytes: new Uint8Array(1) }))
      expectTypeError(() => encodeFrame({ type: FrameType.ABSENT, requestId: bad }))
      expectTypeError(() => encodeFrame({ type: FrameType.CANCEL, requestId: bad }))
    }
  })
})

describe('bitfieldOf / bitfieldHas', () => {
  it('sizes the bitfield to ceil(count / 8)', () => {
    for (const count of [0, 1, 7, 8, 9, 1000]) expect(bitfieldOf(count, []).length).toBe(Math.ceil(count / 8))
  })

  it('sets bits MSB first, as in BitTorrent', () => {
    expect(Array.from(bitfieldOf(8, [0]))).toEqual([0x80])
    expect(Array.from(bitfieldOf(8, [7]))).toEqual([0x01])
    expect(Array.from(bitfieldOf(9, [0, 8]))).toEqual([0x80, 0x80])
    expect(Array.from(bitfieldOf(16, [0, 1, 2, 3, 4, 5, 6, 7, 15]))).toEqual([0xff, 0x01])
  })

  it('bitfieldHas reads back exactly the set indices', () => {
    const count = 1000
    const set = new Set([0, 1, 7, 8, 9, 63, 64, 500, 998, 999])
    const bf = bitfieldOf(count, set)
    for (let i = 0; i < count; i++) expect(bitfieldHas(bf, i)).toBe(set.has(i))
  })

  it('ignores out-of-range indices and duplicates; accepts any iterable', () => {
    expect(Array.from(bitfieldOf(9, [-1, 9, 100, 3, 3]))).toEqual([0x10, 0x00])
    function* gen(): Generator<number> {
      yield 2
      yield 8
    }
    expect(Array.from(bitfieldOf(9, gen()))).toEqual([0x20, 0x80])
  })

  it('bitfieldHas is false beyond the bitfield', () => {
    const bf = bitfieldOf(8, [0, 1, 2, 3, 4, 5, 6, 7])
    expect(bitfieldHas(bf, 8)).toBe(false)
    expect(bitfieldHas(bf, 1000)).toBe(false)
    expect(bitfieldHas(new Uint8Array(0), 0)).toBe(false)
  })
})
