/** Byte/text helpers that work the same in Node and browsers (no Buffer, no btoa). */

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const B64URL_INDEX = new Map(Array.from(B64URL, (c, i) => [c, i]))

export function toBase64Url(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6))
    for (let j = 0; j < chars; j++) out += B64URL.charAt((n >> (18 - 6 * j)) & 63)
  }
  return out
}

/** Returns undefined when `text` is not unpadded base64url. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((text.length * 6) / 8))
  let bits = 0
  let acc = 0
  let o = 0
  for (const c of text) {
    const v = B64URL_INDEX.get(c)
    if (v === undefined) return undefined
    acc = (acc << 6) | v
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  return out
}

export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

/** Returns undefined when `text` is not lowercase hex of `length` bytes. */
export function fromHex(text: string, length: number): Uint8Array | undefined {
  if (text.length !== length * 2 || !/^[0-9a-f]*$/.test(text)) return undefined
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16)
  return out
}

/** A WebTorrent id (20-char binary string) from bytes, one char per byte. */
export function toBinaryString(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += String.fromCharCode(b)
  return out
}

/** Two hex digits per byte value: the tracker converts every peer id it relays (issue 16's bench). */
const BYTE_HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
/** A hex digit's value by char code, -1 for anything else. */
const DIGIT_VALUE = Int8Array.from({ length: 128 }, (_, c) => {
  const v = parseInt(String.fromCharCode(c), 16)
  return Number.isNaN(v) ? -1 : v
})

export function binaryStringToHex(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    out += c < 256 ? BYTE_HEX[c]! : c.toString(16)
  }
  return out
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** UTF-8 bytes of `text` (TextEncoder is a DOM/Node global, which protocol/ may not use). */
export function utf8Encode(text: string): Uint8Array {
  const out: number[] = []
  for (const ch of text) {
    let c = ch.codePointAt(0)!
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd // lone surrogate: U+FFFD, as TextEncoder does
    if (c < 0x80) out.push(c)
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63))
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
  }
  return Uint8Array.from(out)
}

/** The inverse of `binaryStringToHex`: two hex digits per char. Invalid digits become NUL. */
export function hexToBinaryString(hex: string): string {
  let out = ''
  for (let i = 0; i + 1 < hex.length; i += 2) {
    const high = DIGIT_VALUE[hex.charCodeAt(i)] ?? -1
    const low = DIGIT_VALUE[hex.charCodeAt(i + 1)] ?? -1
    out += String.fromCharCode(high < 0 || low < 0 ? 0 : (high << 4) | low)
  }
  return out
}
