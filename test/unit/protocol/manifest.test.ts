import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  buildManifest,
  chunkBounds,
  chunkCount,
  createManifest,
  parseManifest,
  resourceId,
  serializeManifest,
  verifyChunk,
  type Manifest,
  type Sha256
} from '../../../protocol/src/manifest.js'
import { DEFAULT_CHUNK_SIZE_BYTES, MANIFEST_VERSION } from '../../../protocol/src/constants.js'
import { toBase64Url } from '../../../protocol/src/encoding.js'
import { expectCode } from './helpers.js'

const nodeSha256: Sha256 = async d => new Uint8Array(createHash('sha256').update(d).digest())
const webSha256: Sha256 = async d => new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', d))
const sha256b64 = (d: Uint8Array): string => createHash('sha256').update(d).digest('base64url')

const CHUNK = 1024
const URL_ = 'https://origin.example/video/a.mp4'

function body(size: number): Uint8Array {
  return new Uint8Array(randomBytes(size))
}

async function build(
  size: number,
  init: Partial<Parameters<typeof buildManifest>[0]> = {}
): Promise<{ m: Manifest; data: Uint8Array }> {
  const data = body(size)
  const m = await buildManifest(
    { url: URL_, type: 'video/mp4', etag: '"5f1c"', chunkSize: CHUNK, ...init },
    data,
    nodeSha256
  )
  return { m, data }
}

describe('DEFAULT_CHUNK_SIZE_BYTES', () => {
  it('is 256 KiB and is what createManifest/buildManifest use by default', async () => {
    expect(DEFAULT_CHUNK_SIZE_BYTES).toBe(256 * 1024)
    expect(createManifest({ url: URL_, size: 0 }, []).chunkSize).toBe(256 * 1024)
    const data = body(256 * 1024 + 1)
    const m = await buildManifest({ url: URL_ }, data, nodeSha256)
    expect(m.chunkSize).toBe(256 * 1024)
    expect(m.chunks).toHaveLength(2)
    expect(m.chunks[1]).toBe(sha256b64(data.subarray(256 * 1024)))
  })
})

describe('buildManifest', () => {
  const cases: Array<[string, number, number]> = [
    ['empty', 0, 0],
    ['one byte', 1, 1],
    ['exactly one chunk', CHUNK, 1],
    ['one chunk plus one byte', CHUNK + 1, 2],
    ['3.5 chunks', CHUNK * 3.5, 4],
    ['exactly four chunks', CHUNK * 4, 4]
  ]
  for (const [name, size, chunks] of cases) {
    it(`${name} (${size} bytes) -> ${chunks} chunk(s) hashed independently`, async () => {
      const { m, data } = await build(size)
      expect(m).toMatchObject({
        v: MANIFEST_VERSION,
        url: URL_,
        size,
        type: 'video/mp4',
        etag: '"5f1c"',
        chunkSize: CHUNK,
        hash: 'SHA-256'
      })
      expect(m.chunks).toHaveLength(chunks)
      expect(chunkCount(size, CHUNK)).toBe(chunks)
      for (let i = 0; i < chunks; i++) {
        const { start, end } = chunkBounds(m, i)
        expect(start).toBe(i * CHUNK)
        expect(end).toBe(Math.min((i + 1) * CHUNK, size))
        expect(m.chunks[i]).toBe(sha256b64(data.slice(i * CHUNK, (i + 1) * CHUNK)))
        expect(m.chunks[i]).toMatch(/^[A-Za-z0-9_-]{43}$/)
        expect(await verifyChunk(m, i, data.slice(start, end), nodeSha256)).toBe(true)
      }
    })
  }

  it('last chunk of 3.5 chunks is half a chunk', async () => {
    const { m } = await build(CHUNK * 3.5)
    expect(chunkBounds(m, 3)).toEqual({ start: 3 * CHUNK, end: 3.5 * CHUNK })
  })

  it('fills type and etag defaults', async () => {
    const m = await buildManifest({ url: URL_, chunkSize: CHUNK }, body(10), nodeSha256)
    expect(m.type).toBe('application/octet-stream')
    expect(m.etag).toBe('')
  })

  it('hashes subarrays of a bigger buffer correctly', async () => {
    const big = body(CHUNK * 3)
    const view = big.subarray(100, 100 + CHUNK * 2 - 7)
    const m = await buildManifest({ url: URL_, chunkSize: CHUNK }, view, nodeSha256)
    expect(m.size).toBe(CHUNK * 2 - 7)
    expect(m.chunks).toEqual([sha256b64(view.slice(0, CHUNK)), sha256b64(view.slice(CHUNK))])
  })

  it('gives the same manifest with WebCrypto and node:crypto', async () => {
    const data = body(CHUNK * 2 + 5)
    const a = await buildManifest({ url: URL_, chunkSize: CHUNK }, data, nodeSha256)
    const b = await buildManifest({ url: URL_, chunkSize: CHUNK }, data, webSha256)
    expect(b).toEqual(a)
  })
})

describe('createManifest', () => {
  it('assembles a manifest from digests', () => {
    const d = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]
    const m = createManifest({ url: URL_, size: CHUNK + 1, chunkSize: CHUNK, type: 't', etag: 'e' }, d)
    expect(m).toEqual({
      v: 1,
      url: URL_,
      size: CHUNK + 1,
      type: 't',
      etag: 'e',
      chunkSize: CHUNK,
      hash: 'SHA-256',
      chunks: d.map(toBase64Url)
    })
  })

  it('rejects a chunkSize that is not a positive integer (buildManifest used to loop forever on 0)', async () => {
    for (const chunkSize of [0, -1, 0.5, Number.NaN, Infinity]) {
      expectCode(() => createManifest({ url: URL_, size: 0, chunkSize }, []), 'ERR_INVALID_MANIFEST')
      await expect(buildManifest({ url: URL_, chunkSize }, body(10), nodeSha256)).rejects.toMatchObject({
        code: 'ERR_INVALID_MANIFEST'
      })
    }
  })

  it('rejects a digest count that does not match the size', () => {
    expectCode(
      () => createManifest({ url: URL_, size: CHUNK + 1, chunkSize: CHUNK }, [new Uint8Array(32)]),
      'ERR_INVALID_MANIFEST'
    )
    expectCode(
      () => createManifest({ url: URL_, size: 0, chunkSize: CHUNK }, [new Uint8Array(32)]),
      'ERR_INVALID_MANIFEST'
    )
  })
})

describe('verifyChunk', () => {
  it('is true for the right bytes and false for one flipped bit in any position', async () => {
    const { m, data } = await build(CHUNK * 3.5)
    for (let i = 0; i < 4; i++) {
      const { start, end } = chunkBounds(m, i)
      const chunk = data.slice(start, end)
      expect(await verifyChunk(m, i, chunk, nodeSha256)).toBe(true)
      for (const pos of [0, chunk.length >> 1, chunk.length - 1]) {
        for (const bit of [0, 7]) {
          const bad = chunk.slice()
          bad[pos]! ^= 1 << bit
          expect(await verifyChunk(m, i, bad, nodeSha256)).toBe(false)
        }
      }
    }
  })

  it('is false for wrong lengths', async () => {
    const { m, data } = await build(CHUNK * 3.5)
    expect(await verifyChunk(m, 0, data.slice(0, CHUNK - 1), nodeSha256)).toBe(false)
    expect(await verifyChunk(m, 0, data.slice(0, CHUNK + 1), nodeSha256)).toBe(false)
    const padded = new Uint8Array(CHUNK)
    padded.set(data.slice(3 * CHUNK))
    expect(await verifyChunk(m, 3, padded, nodeSha256)).toBe(false) // last chunk padded to a full chunk
    expect(await verifyChunk(m, 0, new Uint8Array(0), nodeSha256)).toBe(false)
  })

  it('is false for out-of-range and non-integer indices', async () => {
    const { m, data } = await build(CHUNK * 2)
    const first = data.slice(0, CHUNK)
    expect(await verifyChunk(m, -1, first, nodeSha256)).toBe(false)
    expect(await verifyChunk(m, 2, first, nodeSha256)).toBe(false)
    expect(await verifyChunk(m, 1000, first, nodeSha256)).toBe(false)
    expect(await verifyChunk(m, 0.5, first, nodeSha256)).toBe(false)
    expect(await verifyChunk(m, Number.NaN, first, nodeSha256)).toBe(false)
  })

  it("is false for the right length but another chunk's bytes", async () => {
    const { m, data } = await build(CHUNK * 2)
    expect(await verifyChunk(m, 0, data.slice(CHUNK, 2 * CHUNK), nodeSha256)).toBe(false)
  })

  it('works with WebCrypto', async () => {
    const { m, data } = await build(CHUNK + 3)
    expect(await verifyChunk(m, 1, data.slice(CHUNK), webSha256)).toBe(true)
  })

  it('never calls sha256 when the index or length is wrong', async () => {
    const { m, data } = await build(CHUNK)
    let calls = 0
    const counting: Sha256 = async d => {
      calls++
      return await nodeSha256(d)
    }
    await verifyChunk(m, 5, data, counting)
    await verifyChunk(m, 0, data.slice(1), counting)
    expect(calls).toBe(0)
  })
})

describe('resourceId', () => {
  it('is 64 lowercase hex chars, the sha256 of the serialized manifest, and stable', async () => {
    const { m } = await build(CHUNK * 2 + 1)
    const id = await resourceId(m, nodeSha256)
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(id).toBe(createHash('sha256').update(serializeManifest(m), 'utf8').digest('hex'))
    expect(await resourceId(m, nodeSha256)).toBe(id)
    expect(await resourceId(structuredClone(m), nodeSha256)).toBe(id)
    expect(await resourceId(parseManifest(serializeManifest(m)), nodeSha256)).toBe(id)
  })

  it('does not depend on the key order of the manifest object', async () => {
    const { m } = await build(CHUNK)
    const reordered = {
      chunks: m.chunks,
      hash: m.hash,
      chunkSize: m.chunkSize,
      etag: m.etag,
      type: m.type,
      size: m.size,
      url: m.url,
      v: m.v
    }
    expect(await resourceId(reordered, nodeSha256)).toBe(await resourceId(m, nodeSha256))
  })

  it('differs when etag, url, type or a chunk differs', async () => {
    const { m } = await build(CHUNK * 2)
    const id = await resourceId(m, nodeSha256)
    const variants: Manifest[] = [
      { ...m, etag: '"5f1d"' },
      { ...m, etag: '' },
      { ...m, url: URL_ + '?v=2' },
      { ...m, type: 'application/octet-stream' },
      { ...m, chunks: [m.chunks[1]!, m.chunks[0]!] }
    ]
    const ids = await Promise.all(variants.map(async v => await resourceId(v, nodeSha256)))
    for (const other of ids) expect(other).not.toBe(id)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('is the same with WebCrypto and node:crypto, including non-ASCII fields', async () => {
    const { m } = await build(CHUNK + 1, { url: 'https://origin.example/vidéo/🎬.mp4', etag: 'W/"ünïcødé"' })
    const a = await resourceId(m, nodeSha256)
    const b = await resourceId(m, webSha256)
    expect(b).toBe(a)
    expect(a).toBe(createHash('sha256').update(serializeManifest(m), 'utf8').digest('hex'))
  })
})

describe('serializeManifest / parseManifest', () => {
  it('round trips', async () => {
    for (const size of [0, 1, CHUNK, CHUNK + 1, CHUNK * 3.5]) {
      const { m } = await build(size)
      const text = serializeManifest(m)
      expect(parseManifest(text)).toEqual(m)
      expect(serializeManifest(parseManifest(text))).toBe(text)
    }
  })

  it('serializes with a fixed key order and nothing else', async () => {
    const { m } = await build(CHUNK)
    const text = serializeManifest({ ...m, extra: 1 } as unknown as Manifest)
    expect(Object.keys(JSON.parse(text))).toEqual(['v', 'url', 'size', 'type', 'etag', 'chunkSize', 'hash', 'chunks'])
  })

  it('parses the example from DESIGN.md shape and drops unknown fields', async () => {
    const { m } = await build(CHUNK * 2)
    const parsed = parseManifest(JSON.stringify({ ...m, extra: 'x', signature: 'y' }))
    expect(parsed).toEqual(m)
    expect(parsed).not.toHaveProperty('extra')
  })

  it('rejects bad fields with ERR_INVALID_MANIFEST', async () => {
    const { m } = await build(CHUNK * 2 + 1)
    const bad = (patch: Record<string, unknown>): void => {
      expectCode(() => parseManifest(JSON.stringify({ ...m, ...patch })), 'ERR_INVALID_MANIFEST')
    }
    const without = (field: keyof Manifest): void => {
      const o: Record<string, unknown> = { ...m }
      delete o[field]
      expectCode(() => parseManifest(JSON.stringify(o)), 'ERR_INVALID_MANIFEST')
    }
    for (const f of ['v', 'url', 'size', 'type', 'etag', 'chunkSize', 'hash', 'chunks'] as const) without(f)
    bad({ v: 2 })
    bad({ v: '1' })
    bad({ url: '' })
    bad({ url: 42 })
    bad({ size: -1 })
    bad({ size: 1.5 })
    bad({ size: '3073' })
    bad({ size: 2 ** 53 })
    bad({ size: CHUNK * 5 }) // chunk count no longer matches
    bad({ type: null })
    bad({ etag: 5 })
    bad({ chunkSize: 0 })
    bad({ chunkSize: 1023 })
    bad({ chunkSize: 1024.5 })
    bad({ chunkSize: '1024' })
    bad({ hash: 'SHA-1' })
    bad({ hash: 'sha-256' })
    bad({ chunks: 'abc' })
    bad({ chunks: m.chunks.slice(1) })
    bad({ chunks: [...m.chunks, m.chunks[0]] })
    bad({ chunks: [m.chunks[0], m.chunks[1], 42] })
    bad({ chunks: [m.chunks[0], m.chunks[1], m.chunks[2]!.slice(1)] }) // 31.x bytes
    bad({ chunks: [m.chunks[0], m.chunks[1], m.chunks[2]! + 'AAAA'] }) // 35 bytes
    bad({ chunks: [m.chunks[0], m.chunks[1], m.chunks[2]!.slice(0, -1) + '+'] }) // not base64url
    bad({ chunks: [m.chunks[0], m.chunks[1], m.chunks[2]! + '='] }) // padded
  })

  it('rejects non-JSON and non-objects with ERR_INVALID_MANIFEST', () => {
    for (const raw of ['', '{', 'null', '42', '"x"', 'true']) {
      expectCode(() => parseManifest(raw), 'ERR_INVALID_MANIFEST')
    }
    expectCode(() => parseManifest('[]'), 'ERR_INVALID_MANIFEST')
  })
})
