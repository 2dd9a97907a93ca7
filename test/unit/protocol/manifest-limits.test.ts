/**
 * The manifest bounds (constants.ts, issue 11): each one refuses one past it with
 * ERR_INVALID_MANIFEST, and a manifest exactly at it parses. The largest manifest the
 * bounds allow, with every string escaped at its worst and 8 signatures, fits in
 * MAX_MANIFEST_BYTES; one character more is refused before JSON.parse.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it, vi } from 'vitest'
import {
  MAX_CHUNK_SIZE_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_CHUNKS,
  MAX_MANIFEST_ETAG_CHARS,
  MAX_MANIFEST_RESOURCE_BYTES,
  MAX_MANIFEST_SIGNATURES,
  MAX_MANIFEST_TYPE_CHARS,
  MAX_MANIFEST_URL_CHARS,
  MIN_CHUNK_SIZE_BYTES
} from '../../../protocol/src/constants.js'
import {
  createManifest,
  manifestLimitProblem,
  parseManifest,
  serializeSignedManifest,
  type Manifest
} from '../../../protocol/src/manifest.js'
import { toBase64Url } from '../../../protocol/src/encoding.js'
import { expectCode } from './helpers.js'

const HASH = toBase64Url(createHash('sha256').update('chunk').digest())
const SIG = { keyId: 'A'.repeat(11), sig: 'A'.repeat(86) }

/** A well-formed manifest object (not via createManifest, so out-of-bounds ones can be made). */
function raw(fields: Partial<Manifest> & { size: number; chunkSize: number }): Record<string, unknown> {
  const chunks = Array.from({ length: Math.ceil(fields.size / fields.chunkSize) }, () => HASH)
  return {
    v: 1,
    url: 'https://origin.example/a.bin',
    type: 'application/octet-stream',
    etag: '',
    hash: 'SHA-256',
    chunks,
    ...fields
  }
}

const parses = (o: Record<string, unknown>): Manifest => parseManifest(JSON.stringify(o))
const refused = (o: Record<string, unknown>): void => {
  expectCode(() => parses(o), 'ERR_INVALID_MANIFEST')
}

describe('manifest bounds', () => {
  it('are the documented values, and MAX_MANIFEST_BYTES follows its formula', () => {
    expect(MIN_CHUNK_SIZE_BYTES).toBe(1024)
    expect(MAX_CHUNK_SIZE_BYTES).toBe(16 * 1024 * 1024)
    expect(MAX_MANIFEST_CHUNKS).toBe(65_536)
    expect(MAX_MANIFEST_RESOURCE_BYTES).toBe(2 ** 40)
    expect(MAX_MANIFEST_BYTES).toBe(46 * 65_536 + 6 * (8192 + 256 + 512) + 120 * 8 + 256)
    expect(MAX_MANIFEST_BYTES).toBe(3_069_632)
  })

  it('chunk size: MIN and MAX parse, one below and one above are refused', () => {
    expect(parses(raw({ size: 3000, chunkSize: MIN_CHUNK_SIZE_BYTES })).chunkSize).toBe(MIN_CHUNK_SIZE_BYTES)
    expect(parses(raw({ size: 3 * MAX_CHUNK_SIZE_BYTES, chunkSize: MAX_CHUNK_SIZE_BYTES })).chunks).toHaveLength(3)
    refused(raw({ size: 3000, chunkSize: MIN_CHUNK_SIZE_BYTES - 1 }))
    refused(raw({ size: 3000, chunkSize: MAX_CHUNK_SIZE_BYTES + 1 }))
  })

  it('one 1 TiB chunk is refused by the chunk size bound', () => {
    const tib = raw({ size: 2 ** 40, chunkSize: 2 ** 40 })
    expect(tib.chunks).toHaveLength(1)
    expectCode(() => parses(tib), 'ERR_INVALID_MANIFEST')
    expect(() => parses(tib)).toThrow(/chunkSize/)
  })

  it('chunk count: MAX_MANIFEST_CHUNKS parses, one more is refused (1,048,576 x 1 KiB too)', () => {
    expect(parses(raw({ size: MAX_MANIFEST_CHUNKS * 1024, chunkSize: 1024 })).chunks).toHaveLength(MAX_MANIFEST_CHUNKS)
    refused(raw({ size: MAX_MANIFEST_CHUNKS * 1024 + 1, chunkSize: 1024 }))
    refused(raw({ size: 2 ** 30, chunkSize: 1024 }))
    // The largest resource: every chunk at the largest size.
    expect(parses(raw({ size: MAX_MANIFEST_RESOURCE_BYTES, chunkSize: MAX_CHUNK_SIZE_BYTES })).size).toBe(2 ** 40)
    refused(raw({ size: MAX_MANIFEST_RESOURCE_BYTES + 1, chunkSize: MAX_CHUNK_SIZE_BYTES }))
  })

  it('size, chunkSize and chunks stay consistent: size <= chunks x chunkSize and more than (chunks - 1) x chunkSize', () => {
    const o = raw({ size: 4096, chunkSize: 1024 })
    refused({ ...o, size: 4097 })
    refused({ ...o, size: 3072 })
    expect(parses({ ...o, size: 3073 }).chunks).toHaveLength(4)
    refused({ ...o, size: 0 })
    expect(parses(raw({ size: 0, chunkSize: 1024 })).chunks).toEqual([])
  })

  it('url, type and etag: at their bound parse, one character more is refused', () => {
    const base = raw({ size: 2048, chunkSize: 1024 })
    const url = 'https://origin.example/'
    expect(parses({ ...base, url: url + 'a'.repeat(MAX_MANIFEST_URL_CHARS - url.length) }).url).toHaveLength(
      MAX_MANIFEST_URL_CHARS
    )
    refused({ ...base, url: url + 'a'.repeat(MAX_MANIFEST_URL_CHARS - url.length + 1) })
    expect(parses({ ...base, type: 't'.repeat(MAX_MANIFEST_TYPE_CHARS) }).type).toHaveLength(MAX_MANIFEST_TYPE_CHARS)
    refused({ ...base, type: 't'.repeat(MAX_MANIFEST_TYPE_CHARS + 1) })
    expect(parses({ ...base, etag: 'e'.repeat(MAX_MANIFEST_ETAG_CHARS) }).etag).toHaveLength(MAX_MANIFEST_ETAG_CHARS)
    refused({ ...base, etag: 'e'.repeat(MAX_MANIFEST_ETAG_CHARS + 1) })
  })

  it('signatures: MAX_MANIFEST_SIGNATURES parse, one more is refused', () => {
    const base = raw({ size: 2048, chunkSize: 1024 })
    expect(
      parses({ ...base, signatures: Array.from({ length: MAX_MANIFEST_SIGNATURES }, () => SIG) }).signatures
    ).toHaveLength(MAX_MANIFEST_SIGNATURES)
    refused({ ...base, signatures: Array.from({ length: MAX_MANIFEST_SIGNATURES + 1 }, () => SIG) })
  })

  it('the largest manifest the bounds allow, every string at its worst escaping, fits MAX_MANIFEST_BYTES and parses', () => {
    // \u0001 serializes as 6 bytes: the worst a character costs in JSON.
    const worst = (n: number, prefix = ''): string => prefix + '\u0001'.repeat(n - prefix.length)
    const m = createManifest(
      {
        url: worst(MAX_MANIFEST_URL_CHARS, 'https://origin.example/'),
        size: MAX_MANIFEST_RESOURCE_BYTES,
        type: worst(MAX_MANIFEST_TYPE_CHARS),
        etag: worst(MAX_MANIFEST_ETAG_CHARS),
        chunkSize: MAX_CHUNK_SIZE_BYTES
      },
      Array.from({ length: MAX_MANIFEST_CHUNKS }, () => new Uint8Array(32))
    )
    const text = serializeSignedManifest(
      m,
      Array.from({ length: MAX_MANIFEST_SIGNATURES }, () => SIG)
    )
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_MANIFEST_BYTES)
    // Tight: the slack is the url's ASCII prefix (1 byte a character, not 6) and the rounded fixed part.
    expect(MAX_MANIFEST_BYTES - Buffer.byteLength(text)).toBeLessThan(512)
    expect(parseManifest(text).chunks).toHaveLength(MAX_MANIFEST_CHUNKS)
  })

  it('a string over MAX_MANIFEST_BYTES is refused before JSON.parse', () => {
    const spy = vi.spyOn(JSON, 'parse')
    try {
      const text = JSON.stringify(raw({ size: 2048, chunkSize: 1024 })).padEnd(MAX_MANIFEST_BYTES + 1, ' ')
      expectCode(() => parseManifest(text), 'ERR_INVALID_MANIFEST')
      expect(spy).not.toHaveBeenCalled()
      // At the bound, whitespace and all, it is parsed.
      expect(parseManifest(text.slice(0, MAX_MANIFEST_BYTES)).size).toBe(2048)
    } finally {
      spy.mockRestore()
    }
  })

  it('createManifest refuses what parseManifest would, and manifestLimitProblem says why', () => {
    expectCode(
      () => createManifest({ url: 'https://o.example/a', size: MAX_MANIFEST_CHUNKS * 1024 + 1, chunkSize: 1024 }, []),
      'ERR_INVALID_MANIFEST'
    )
    expect(manifestLimitProblem({ url: 'https://o.example/a', size: 2 ** 30, chunkSize: 1024 })).toMatch(
      /1048576 chunks, over the 65536 .*chunkSize 16384 or more/
    )
    expect(manifestLimitProblem({ url: 'https://o.example/a', size: 2 ** 30, chunkSize: 16384 })).toBeUndefined()
    expect(manifestLimitProblem({ url: 'https://o.example/a', size: 2 ** 41, chunkSize: 1024 })).toMatch(
      /no chunk size would do/
    )
    expect(manifestLimitProblem({ url: '', size: 0, chunkSize: 1024 })).toMatch(/url/)
  })
})
