import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  binaryStringToHex,
  bytesEqual,
  fromBase64Url,
  fromHex,
  toBase64Url,
  toBinaryString,
  toHex,
  utf8Encode
} from '../../../protocol/src/encoding.js'

const bytesOf = (b: Uint8Array | undefined): number[] | undefined => (b === undefined ? undefined : Array.from(b))

describe('base64url', () => {
  it('matches Buffer base64url for every length 0..100, and round trips', () => {
    for (let len = 0; len <= 100; len++) {
      for (let rep = 0; rep < 5; rep++) {
        const bytes = new Uint8Array(randomBytes(len))
        const text = toBase64Url(bytes)
        expect(text).toBe(Buffer.from(bytes).toString('base64url'))
        expect(bytesOf(fromBase64Url(text))).toEqual(Array.from(bytes))
      }
    }
  })

  it('decodes what Buffer encodes, including all-0x00 and all-0xff', () => {
    for (const fill of [0x00, 0xff, 0xfb, 0x3e]) {
      for (const len of [0, 1, 2, 3, 4, 32, 33]) {
        const bytes = new Uint8Array(len).fill(fill)
        const text = Buffer.from(bytes).toString('base64url')
        expect(toBase64Url(bytes)).toBe(text)
        expect(bytesOf(fromBase64Url(text))).toEqual(Array.from(bytes))
      }
    }
  })

  it('uses - and _ and no padding', () => {
    expect(toBase64Url(Uint8Array.of(0xfb, 0xff))).toBe('-_8')
    expect(toBase64Url(Uint8Array.of(0xff))).toBe('_w')
    expect(toBase64Url(new Uint8Array(0))).toBe('')
    expect(bytesOf(fromBase64Url(''))).toEqual([])
  })

  it('encodes subarrays with a non-zero byteOffset', () => {
    const big = new Uint8Array(randomBytes(64))
    const view = big.subarray(5, 40)
    expect(toBase64Url(view)).toBe(Buffer.from(view).toString('base64url'))
  })

  it('returns undefined for invalid base64url', () => {
    for (const bad of [
      'A', // length % 4 === 1
      'AAAAA',
      'AB==', // padded
      'AA=',
      'ab+c', // standard base64 chars
      'ab/c',
      'ab c',
      'abc\n',
      'é',
      'abc.',
      '😀😀'
    ]) {
      expect(fromBase64Url(bad), JSON.stringify(bad)).toBeUndefined()
    }
  })
})

describe('hex', () => {
  it('toHex matches Buffer hex', () => {
    for (let len = 0; len <= 40; len++) {
      const bytes = new Uint8Array(randomBytes(len))
      expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'))
    }
    expect(toHex(Uint8Array.of(0, 1, 0x0f, 0x10, 0xff))).toBe('00010f10ff')
  })

  it('fromHex round trips at the given length', () => {
    const bytes = new Uint8Array(randomBytes(32))
    expect(bytesOf(fromHex(toHex(bytes), 32))).toEqual(Array.from(bytes))
    expect(bytesOf(fromHex('', 0))).toEqual([])
  })

  it('fromHex rejects wrong length, uppercase and non-hex', () => {
    expect(fromHex('abcd', 1)).toBeUndefined()
    expect(fromHex('abcd', 3)).toBeUndefined()
    expect(fromHex('ABCD', 2)).toBeUndefined()
    expect(fromHex('zz00', 2)).toBeUndefined()
    expect(fromHex('0x12', 2)).toBeUndefined()
    expect(fromHex(' 12 ', 2)).toBeUndefined()
    expect(fromHex('+1+2', 2)).toBeUndefined()
  })
})

describe('binary strings', () => {
  it('toBinaryString maps one byte to one char, and binaryStringToHex reverses it', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
    const s = toBinaryString(bytes)
    expect(s.length).toBe(256)
    for (let i = 0; i < 256; i++) expect(s.charCodeAt(i)).toBe(i)
    expect(binaryStringToHex(s)).toBe(toHex(bytes))
    expect(binaryStringToHex(s)).toBe(Buffer.from(s, 'latin1').toString('hex'))
  })
})

describe('bytesEqual', () => {
  it('compares length and content', () => {
    expect(bytesEqual(Uint8Array.of(), Uint8Array.of())).toBe(true)
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true)
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false)
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false)
    expect(bytesEqual(Uint8Array.of(0), Uint8Array.of())).toBe(false)
  })
})

describe('utf8Encode', () => {
  const encoder = new TextEncoder()
  const same = (text: string): void => {
    expect(Array.from(utf8Encode(text)), JSON.stringify(text)).toEqual(Array.from(encoder.encode(text)))
  }

  it('equals TextEncoder for ASCII', () => {
    same('')
    same('hello, world')
    same('{"v":1,"url":"https://origin.example/a.mp4"}')
    same(String.fromCharCode(...Array.from({ length: 128 }, (_, i) => i)))
  })

  it('equals TextEncoder for accents and other 2- and 3-byte characters', () => {
    same('café déjà vu')
    same('Ünïcødé ñ ß ø å')
    same('\u0080\u07ff\u0800\uffff')
    same('日本語のテキスト')
    same('Ελληνικά кириллица')
  })

  it('equals TextEncoder for emoji and other astral characters', () => {
    same('😀')
    same('👩‍👩‍👧‍👦 🇫🇷 🎬')
    same('a😀b🎉c')
    same('\u{10000}\u{10ffff}')
  })

  it('equals TextEncoder for every BMP code unit and random strings', () => {
    let all = ''
    for (let c = 0; c < 0x10000; c++) if (c < 0xd800 || c > 0xdfff) all += String.fromCharCode(c)
    same(all)
    for (let i = 0; i < 200; i++) {
      const cps = Array.from({ length: 20 }, () => {
        const r = Math.random()
        if (r < 0.3) return Math.floor(Math.random() * 0x80)
        if (r < 0.6) return 0x80 + Math.floor(Math.random() * (0x800 - 0x80))
        if (r < 0.8) return 0xe000 + Math.floor(Math.random() * 0x2000)
        return 0x10000 + Math.floor(Math.random() * 0xfffff)
      })
      same(String.fromCodePoint(...cps))
    }
  })

  it('equals TextEncoder for lone surrogates (U+FFFD)', () => {
    same('\ud800')
    same('a\udc00b')
    same('\ud83d') // first half of 😀
    same('\ude00\ud83d') // halves in the wrong order
  })
})
