/**
 * Exact error messages, names and boundaries of protocol/: the tracker sends parser
 * messages to clients as `failure reason`, and the edge's manifest CLI prints the limit
 * problems, so their wording is part of the protocol. Written to kill the mutants Stryker
 * found surviving in protocol/src (test/MUTATION.md).
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  CdnError,
  FrameType,
  IntegrityError,
  InvalidManifestError,
  InvalidMessageError,
  MAX_CHUNK_SIZE_BYTES,
  MAX_FRAME_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_CHUNKS,
  MAX_MESSAGE_BYTES,
  ProtocolError,
  SignatureError,
  TimeoutError,
  binaryStringToHex,
  bitfieldOf,
  bytesEqual,
  createJsonLogger,
  createManifest,
  decodeFrame,
  encodeFrame,
  fromHex,
  hexToBinaryString,
  manifestLimitProblem,
  parseClientMessage,
  parseManifest,
  parseManifestPublicKey,
  parseTrackerMessage,
  serializeManifest,
  toBase64Url,
  utf8Encode,
  verifyChunk,
  type Frame,
  type Manifest
} from '../../../protocol/src/index.js'

const ID = 'a'.repeat(20)
const RESOURCE = 'ab'.repeat(32)

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn()
  } catch (err) {
    return err as Error & { code?: string }
  }
  throw new Error('expected a throw')
}

const clientError = (raw: unknown): string => thrown(() => parseClientMessage(JSON.stringify(raw))).message
const trackerError = (raw: unknown): string => thrown(() => parseTrackerMessage(JSON.stringify(raw))).message

describe('error classes', () => {
  it('carry their name and code', () => {
    const cases: Array<[CdnError, string, string]> = [
      [new InvalidMessageError('m'), 'InvalidMessageError', 'ERR_INVALID_MESSAGE'],
      [new ProtocolError('m'), 'ProtocolError', 'ERR_PROTOCOL'],
      [new TimeoutError('m'), 'TimeoutError', 'ERR_TIMEOUT'],
      [new IntegrityError('m'), 'IntegrityError', 'ERR_INTEGRITY'],
      [new InvalidManifestError('m'), 'InvalidManifestError', 'ERR_INVALID_MANIFEST'],
      [new SignatureError('m'), 'SignatureError', 'ERR_SIGNATURE'],
      [new CdnError('ERR_HTTP', 'm'), 'CdnError', 'ERR_HTTP']
    ]
    for (const [err, name, code] of cases) {
      expect(err.name).toBe(name)
      expect(err.code).toBe(code)
      expect(err.message).toBe('m')
      expect(err).toBeInstanceOf(Error)
    }
  })
})

describe('parseClientMessage messages', () => {
  it('names what is wrong with the frame itself', () => {
    expect(thrown(() => parseClientMessage(42 as unknown as string)).message).toBe('message is not text')
    expect(thrown(() => parseClientMessage(' '.repeat(MAX_MESSAGE_BYTES + 1))).message).toBe(
      `message longer than ${MAX_MESSAGE_BYTES} characters`
    )
    // Exactly the bound is decoded (and fails later, as not JSON).
    expect(thrown(() => parseClientMessage('x'.repeat(MAX_MESSAGE_BYTES))).message).toBe('message is not JSON')
    expect(thrown(() => parseClientMessage('[]')).message).toBe('message is not a JSON object')
    expect(thrown(() => parseClientMessage('null')).message).toBe('message is not a JSON object')
  })

  it('names the field and the rule', () => {
    expect(clientError({ action: 'announce', info_hash: 'short', peer_id: ID })).toBe(
      'invalid info_hash: expected a 20-character binary string'
    )
    // The last character counts: one over 0xff is refused.
    expect(clientError({ action: 'announce', info_hash: 'a'.repeat(19) + '\u0100', peer_id: ID })).toBe(
      'invalid info_hash: expected a 20-character binary string'
    )
    const base = { action: 'announce', info_hash: ID, peer_id: ID }
    expect(clientError({ ...base, region: '' })).toBe(
      'invalid region: expected a non-empty string of at most 2048 characters'
    )
    expect(parseClientMessage(JSON.stringify({ ...base, region: 'r'.repeat(2048) }))).toMatchObject({
      region: 'r'.repeat(2048)
    })
    expect(clientError({ ...base, numwant: true })).toBe('invalid numwant: expected a number')
    expect(clientError({ ...base, numwant: -1 })).toBe('invalid numwant: negative')
    expect(clientError({ ...base, offers: {} })).toBe('invalid offers: expected an array')
    expect(clientError({ ...base, offers: Array.from({ length: 51 }, () => ({})) })).toBe(
      'invalid offers: more than 50'
    )
    expect(clientError({ ...base, offers: [7] })).toBe('invalid offers[0]: expected an object')
    expect(clientError({ ...base, offers: [{ offer: { sdp: 1 }, offer_id: ID }] })).toBe(
      'invalid offers[0].offer: expected {type, sdp} with sdp of at most 16384 characters'
    )
    expect(clientError({ ...base, offers: [{ offer: { type: 'answer', sdp: 'x' }, offer_id: ID }] })).toBe(
      'invalid offers[0].offer.type: expected "offer"'
    )
    expect(clientError({ ...base, event: 7 })).toBe('invalid event: 7')
    expect(clientError({ ...base, event: 'e'.repeat(40) })).toBe(`invalid event: ${'e'.repeat(32)}`)
    expect(clientError({ ...base, to_peer_id: ID, offer_id: ID, answer: { type: 'offer', sdp: 'x' } })).toBe(
      'invalid answer.type: expected "answer"'
    )
    expect(clientError({ action: 'scrape', info_hash: Array.from({ length: 101 }, () => ID) })).toBe(
      'invalid info_hash: more than 100'
    )
    expect(parseClientMessage(JSON.stringify({ action: 'scrape', info_hash: Array(100).fill(ID) }))).toMatchObject({
      action: 'scrape'
    })
    expect(clientError({ action: 'scrape', info_hash: ['x'] })).toBe(
      'invalid info_hash: expected 20-character binary strings'
    )
    const edge = { action: 'p2pcdn:edge-register', token: 't', url: 'https://e.test', region: 'eu' }
    expect(clientError({ ...edge, v: '1' })).toBe('invalid v: expected a protocol version')
    expect(clientError({ ...edge, v: 1.5 })).toBe('invalid v: expected a protocol version')
    expect(clientError({ ...edge, url: 'ftp://e.test' })).toBe('invalid url: expected an http(s) URL')
    expect(clientError({ ...edge, url: 'see https://e.test' })).toBe('invalid url: expected an http(s) URL')
    expect(clientError({ action: 'p2pcdn:edge-load', connections: 1, bytesPerSec: 1, hitRatio: 2 })).toBe(
      'invalid hitRatio: expected a number between 0 and 1'
    )
    expect(clientError({ action: 'p2pcdn:edge-load', bytesPerSec: 1, hitRatio: 1 })).toBe(
      'invalid connections: expected a number'
    )
    const long = 'x'.repeat(100)
    expect(clientError({ action: long })).toBe(`unknown action: ${JSON.stringify(long).slice(0, 64)}`)
    expect(clientError({})).toBe('unknown action: null')
  })

  it('takes null as absent for offers, event and answer, and keeps only given counters', () => {
    const base = { action: 'announce', info_hash: ID, peer_id: ID }
    expect(parseClientMessage(JSON.stringify({ ...base, offers: null, event: null, answer: null }))).toEqual(base)
    expect(parseClientMessage(JSON.stringify({ ...base, uploaded: 5 }))).toEqual({ ...base, uploaded: 5 })
    expect(parseClientMessage(JSON.stringify({ ...base, downloaded: 5 }))).toEqual({ ...base, downloaded: 5 })
    expect(parseClientMessage(JSON.stringify(base))).not.toHaveProperty('uploaded')
  })

  it('keeps a URL whole, trailing slashes off', () => {
    const edge = { action: 'p2pcdn:edge-register', token: 't', region: 'eu' }
    expect(parseClientMessage(JSON.stringify({ ...edge, url: 'https://e.test/a//' }))).toMatchObject({
      url: 'https://e.test/a'
    })
    expect(parseClientMessage(JSON.stringify({ ...edge, url: 'https://e.test:8443/x' }))).toMatchObject({
      url: 'https://e.test:8443/x'
    })
  })
})

describe('parseTrackerMessage messages', () => {
  it('names the field and the rule', () => {
    expect(trackerError({ action: 'scrape', files: [] })).toBe('invalid files: expected an object')
    expect(trackerError({ action: 'scrape', files: { a: 1 } })).toBe('invalid files entry')
    expect(trackerError({ action: 'p2pcdn:edges', edges: {} })).toBe('invalid edges: expected an array')
    expect(trackerError({ action: 'p2pcdn:edges', edges: [1] })).toBe('invalid edges[0]: expected an object')
    expect(
      trackerError({ action: 'announce', info_hash: ID, peer_id: ID, offer_id: ID, offer: { type: 'x', sdp: '' } })
    ).toBe('invalid offer.type: expected "offer"')
    expect(
      trackerError({ action: 'announce', info_hash: ID, peer_id: ID, offer_id: ID, answer: { type: 'x', sdp: '' } })
    ).toBe('invalid answer.type: expected "answer"')
    const long = 'y'.repeat(100)
    expect(trackerError({ action: long })).toBe(`unknown action: ${JSON.stringify(long).slice(0, 64)}`)
  })
})

describe('manifest limits and parsing', () => {
  const ok = { url: 'https://o.test/a', size: 10, chunkSize: 1024 }

  it('names each limit', () => {
    expect(manifestLimitProblem({ ...ok, size: -1 })).toBe('size -1 is not a byte count')
    expect(manifestLimitProblem({ ...ok, size: 1.5 })).toBe('size 1.5 is not a byte count')
    expect(manifestLimitProblem({ ...ok, type: 't'.repeat(257) })).toBe('type of 257 characters is over 256')
    expect(manifestLimitProblem({ ...ok, etag: 'e'.repeat(513) })).toBe('etag of 513 characters is over 512')
    expect(manifestLimitProblem({ ...ok, type: 't'.repeat(256), etag: 'e'.repeat(512) })).toBeUndefined()
    // Just enough chunk size is suggested when one exists, even the largest...
    const largest = MAX_MANIFEST_CHUNKS * MAX_CHUNK_SIZE_BYTES
    expect(manifestLimitProblem({ ...ok, size: largest, chunkSize: 1024 })).toBe(
      `${largest} bytes at chunkSize 1024 is ${largest / 1024} chunks, over the ${MAX_MANIFEST_CHUNKS} a manifest may have (chunkSize ${MAX_CHUNK_SIZE_BYTES} or more would do)`
    )
    // ...and past it, the bound is named.
    expect(manifestLimitProblem({ ...ok, size: largest + 1, chunkSize: MAX_CHUNK_SIZE_BYTES })).toBe(
      `${largest + 1} bytes at chunkSize ${MAX_CHUNK_SIZE_BYTES} is ${MAX_MANIFEST_CHUNKS + 1} chunks, over the ${MAX_MANIFEST_CHUNKS} a manifest may have (no chunk size would do: over ${largest} bytes)`
    )
  })

  it('createManifest refuses a bad size or a wrong digest count, saying so', () => {
    expect(thrown(() => createManifest({ ...ok, size: -1 }, [])).message).toBe('size -1 is not a byte count')
    expect(thrown(() => createManifest(ok, [])).message).toBe('expected 1 chunk digests for 10 bytes, got 0')
  })

  const digest = createHash('sha256').update('x').digest('base64url')
  const good = (): Record<string, unknown> => ({
    v: 1,
    url: 'https://o.test/a',
    size: 10,
    type: 'text/plain',
    etag: '',
    chunkSize: 1024,
    hash: 'SHA-256',
    chunks: [digest]
  })
  const manifestError = (o: unknown): string => thrown(() => parseManifest(JSON.stringify(o))).message

  it('names the field parseManifest refuses', () => {
    expect(parseManifest(JSON.stringify(good()))).toMatchObject({ size: 10 })
    expect(thrown(() => parseManifest(' '.repeat(MAX_MANIFEST_BYTES + 1))).message).toBe(
      `manifest of ${MAX_MANIFEST_BYTES + 1} characters is over ${MAX_MANIFEST_BYTES}`
    )
    expect(thrown(() => parseManifest('{')).message).toBe('manifest is not JSON')
    expect(thrown(() => parseManifest('"text"')).message).toBe('manifest is not an object')
    expect(thrown(() => parseManifest('null')).message).toBe('manifest is not an object')
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ v: 2 }, 'v'],
      [{ url: 7 }, 'url'],
      [{ url: '' }, 'url'],
      [{ size: '10' }, 'size'],
      [{ size: 1.5 }, 'size'],
      [{ size: -1 }, 'size'],
      [{ type: 1 }, 'type'],
      [{ etag: null }, 'etag'],
      [{ chunkSize: '1024' }, 'chunkSize'],
      [{ chunkSize: 1024.5 }, 'chunkSize'],
      [{ hash: 'MD5' }, 'hash'],
      [{ chunks: 'x' }, 'chunks'],
      [{ chunks: [digest, digest] }, 'chunks'],
      [{ chunks: ['short'] }, 'chunks'],
      [{ signatures: 'x' }, 'signatures'],
      [{ signatures: [null] }, 'signatures'],
      [{ signatures: ['x'] }, 'signatures'],
      [{ signatures: [{ keyId: '!', sig: 'x' }] }, 'signatures']
    ]
    for (const [change, field] of cases) {
      expect(manifestError({ ...good(), ...change }), JSON.stringify(change)).toBe(`invalid manifest field: ${field}`)
    }
  })

  it('verifyChunk says false for a digest that is not base64url', async () => {
    const data = new TextEncoder().encode('0123456789')
    const m = parseManifest(JSON.stringify(good()))
    const sha = (d: Uint8Array): Promise<Uint8Array> =>
      Promise.resolve(new Uint8Array(createHash('sha256').update(d).digest()))
    const bad: Manifest = { ...m, chunks: ['!!!!'] }
    expect(await verifyChunk(bad, 0, data, sha)).toBe(false)
    expect(serializeManifest(m)).toContain('"chunks":[')
  })
})

describe('parseManifestPublicKey', () => {
  it('takes exactly 43 base64url characters of a 32-byte key', () => {
    const key = toBase64Url(new Uint8Array(32).fill(7))
    expect(key).toHaveLength(43)
    expect(parseManifestPublicKey(key)).toEqual(new Uint8Array(32).fill(7))
    expect(parseManifestPublicKey(`x${key}`)).toBeUndefined()
    expect(parseManifestPublicKey(`${key}x`)).toBeUndefined()
    expect(parseManifestPublicKey(`=${key}`)).toBeUndefined()
    expect(parseManifestPublicKey(`${key}=`)).toBeUndefined()
  })
})

describe('wire frames', () => {
  const encodeError = (frame: unknown): string => thrown(() => encodeFrame(frame as Frame)).message
  const decodeError = (bytes: number[] | Uint8Array): string =>
    thrown(() => decodeFrame(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes))).message

  it('names what cannot be encoded', () => {
    expect(encodeError({ type: FrameType.HANDSHAKE, version: -1 })).toBe('version must be a u8')
    expect(encodeError({ type: FrameType.HANDSHAKE, version: 256 })).toBe('version must be a u8')
    expect(encodeError({ type: FrameType.HANDSHAKE, version: 1.5 })).toBe('version must be a u8')
    expect(encodeFrame({ type: FrameType.HANDSHAKE, version: 255 })).toEqual(Uint8Array.of(1, 255))
    expect(encodeFrame({ type: FrameType.HANDSHAKE, version: 0 })).toEqual(Uint8Array.of(1, 0))
    const have = { type: FrameType.HAVE, resourceId: RESOURCE, chunkCount: 9, bitfield: new Uint8Array(2) }
    expect(encodeError({ ...have, bitfield: new Uint8Array(1) })).toBe('bitfield length does not match chunkCount')
    expect(encodeError({ ...have, resourceId: 'AB'.repeat(32) })).toBe('resourceId must be 64 lowercase hex characters')
    expect(encodeError({ ...have, chunkCount: 1.5, bitfield: new Uint8Array(1) })).toBe('chunkCount must be a u32')
    const request = { type: FrameType.REQUEST, requestId: 1, resourceId: RESOURCE, index: 0 }
    expect(encodeError({ ...request, requestId: -1 })).toBe('requestId must be a u32')
    expect(encodeError({ ...request, index: 2 ** 32 })).toBe('index must be a u32')
    expect(encodeError({ type: FrameType.DATA, requestId: -1, offset: 0, bytes: new Uint8Array() })).toBe(
      'requestId must be a u32'
    )
    expect(encodeError({ type: FrameType.DATA, requestId: 0, offset: -1, bytes: new Uint8Array() })).toBe(
      'offset must be a u32'
    )
    expect(encodeError({ type: FrameType.CANCEL, requestId: -1 })).toBe('requestId must be a u32')
    expect(encodeError({ type: FrameType.DATA, requestId: 0, offset: 0, bytes: new Uint8Array(MAX_FRAME_BYTES) })).toBe(
      `frame of ${MAX_FRAME_BYTES + 9} bytes exceeds ${MAX_FRAME_BYTES}`
    )
  })

  it('names what cannot be decoded', () => {
    expect(decodeError([])).toBe('empty frame')
    expect(decodeError(new Uint8Array(MAX_FRAME_BYTES + 1))).toBe(
      `frame of ${MAX_FRAME_BYTES + 1} bytes exceeds ${MAX_FRAME_BYTES}`
    )
    expect(decodeError([FrameType.HANDSHAKE])).toBe('frame type 1 has wrong length 1')
    expect(decodeError([99])).toBe('unknown frame type 99')
  })

  it('bitfieldOf ignores negative indices', () => {
    expect(bitfieldOf(8, [-1, -8, 0])).toEqual(Uint8Array.of(0x80))
  })
})

describe('encoding edges', () => {
  it('reads no byte past the end', () => {
    expect(toBase64Url(Uint8Array.of(0xff))).toBe('_w')
    expect(fromHex('ab', 1)).toEqual(Uint8Array.of(0xab))
    // A missing element reads as undefined, which must not match a present one.
    expect(bytesEqual(Uint8Array.of(1), Uint8Array.of(1))).toBe(true)
    expect(binaryStringToHex('\u0001\u00ff')).toBe('01ff')
  })

  it('encodes U+DFFF as a lone surrogate, like TextEncoder', () => {
    expect(utf8Encode('\udfff')).toEqual(new TextEncoder().encode('\udfff'))
    expect(utf8Encode('\udffe')).toEqual(new TextEncoder().encode('\udffe'))
  })

  it('hexToBinaryString turns hex pairs into byte characters, a bad pair into NUL, drops an odd last digit', () => {
    expect(hexToBinaryString('')).toBe('')
    expect(hexToBinaryString('41ff')).toBe('A\u00ff')
    expect(hexToBinaryString('41zz42')).toBe('A\u0000B')
    expect(hexToBinaryString('414')).toBe('A')
    expect(hexToBinaryString('00')).toBe('\u0000')
  })
})

describe('createJsonLogger', () => {
  it('writes one JSON line per event at or above its level', () => {
    const lines: string[] = []
    const log = createJsonLogger('p2pcdn:test', line => lines.push(line), 'warn')
    log.debug('d')
    log.info('i')
    log.warn('w', { n: 1 })
    log.error('e')
    expect(lines).toHaveLength(2)
    expect(lines.every(line => line.endsWith('}\n'))).toBe(true)
    const [warn, error] = lines.map(line => JSON.parse(line) as Record<string, unknown>)
    expect(warn).toMatchObject({ level: 'warn', name: 'p2pcdn:test', event: 'w', n: 1 })
    expect(typeof warn!.t).toBe('string')
    expect(error).toMatchObject({ level: 'error', event: 'e' })
  })

  it('logs from info by default, and debug when asked', () => {
    const lines: string[] = []
    const log = createJsonLogger('n', line => lines.push(line))
    log.debug('d')
    log.info('i')
    expect(lines.map(line => (JSON.parse(line) as { level: string }).level)).toEqual(['info'])
    const all: string[] = []
    const verbose = createJsonLogger('n', line => all.push(line), 'debug')
    verbose.debug('d')
    verbose.info('i')
    verbose.warn('w')
    verbose.error('e')
    expect(all.map(line => (JSON.parse(line) as { level: string }).level)).toEqual(['debug', 'info', 'warn', 'error'])
  })
})
