import { createHash, createPrivateKey, randomBytes, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  buildManifest,
  ED25519_SIGNATURE_BYTES,
  KEY_ID_BYTES,
  parseManifest,
  resourceId,
  serializeManifest,
  serializeSignedManifest,
  type Manifest,
  type Sha256
} from '../../../protocol/src/manifest.js'
import {
  MANIFEST_SIGNING_CONTEXT,
  manifestKeyId,
  manifestSigningBytes,
  parseManifestPublicKey,
  sameResourceUrl
} from '../../../protocol/src/manifest-signature.js'
import { MAX_MANIFEST_SIGNATURES } from '../../../protocol/src/constants.js'
import { fromBase64Url, toBase64Url } from '../../../protocol/src/encoding.js'
import { createManifestSigner, verifyManifestSignature } from '../../../edge/src/manifest-signer.js'
import { expectCode } from './helpers.js'

const nodeSha256: Sha256 = async d => new Uint8Array(createHash('sha256').update(d).digest())

/** RFC 8032 section 7.1, TEST 1: a fixed Ed25519 key, so the vectors below pin the format. */
const SEED_HEX = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'
const PUBLIC_HEX = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
const PEM = createPrivateKey({
  key: Buffer.from('302e020100300506032b657004220420' + SEED_HEX, 'hex'),
  format: 'der',
  type: 'pkcs8'
})
  .export({ format: 'pem', type: 'pkcs8' })
  .toString()
const PUBLIC = toBase64Url(Buffer.from(PUBLIC_HEX, 'hex'))

/** A small manifest with fixed content: its canonical bytes never change. */
const FIXED: Manifest = {
  v: 1,
  url: 'https://origin.example/app.js',
  size: 5,
  type: 'text/javascript',
  etag: '"abc"',
  chunkSize: 1024,
  hash: 'SHA-256',
  chunks: [toBase64Url(createHash('sha256').update('hello').digest())]
}

describe('manifestSigningBytes', () => {
  it('is the UTF-8 of "p2pcdn-manifest-v1\\n" and the canonical JSON, nothing else', () => {
    const text =
      'p2pcdn-manifest-v1\n{"v":1,"url":"https://origin.example/app.js","size":5,"type":"text/javascript","etag":"\\"abc\\"",' +
      '"chunkSize":1024,"hash":"SHA-256","chunks":["LPJNul-wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ"]}'
    expect(MANIFEST_SIGNING_CONTEXT).toBe('p2pcdn-manifest-v1\n')
    expect(Buffer.from(manifestSigningBytes(FIXED)).toString('utf8')).toBe(text)
  })

  it('ignores signatures and extra fields, so a signature never covers itself', () => {
    const signed = { ...FIXED, signatures: [{ keyId: 'A'.repeat(11), sig: 'A'.repeat(86) }], extra: 1 } as Manifest
    expect(manifestSigningBytes(signed)).toEqual(manifestSigningBytes(FIXED))
  })

  it('encodes non-ASCII as UTF-8 the way TextEncoder does', () => {
    const m = { ...FIXED, url: 'https://origin.example/vidéo/🎬.mp4' }
    expect(manifestSigningBytes(m)).toEqual(new TextEncoder().encode(MANIFEST_SIGNING_CONTEXT + serializeManifest(m)))
  })
})

describe('keys and key ids', () => {
  it('a key id is base64url of the first 8 bytes of SHA-256(raw public key)', async () => {
    const raw = Buffer.from(PUBLIC_HEX, 'hex')
    const id = await manifestKeyId(raw, nodeSha256)
    expect(id).toBe(createHash('sha256').update(raw).digest().subarray(0, KEY_ID_BYTES).toString('base64url'))
    expect(id).toMatch(/^[A-Za-z0-9_-]{11}$/)
  })

  it('parseManifestPublicKey takes 43 base64url chars of 32 bytes and nothing else', () => {
    expect(parseManifestPublicKey(PUBLIC)).toEqual(new Uint8Array(Buffer.from(PUBLIC_HEX, 'hex')))
    for (const bad of [
      '',
      PUBLIC.slice(1),
      PUBLIC + 'A',
      PUBLIC.slice(0, -1) + '+',
      PUBLIC + '=',
      Buffer.from(PUBLIC_HEX, 'hex').toString('base64')
    ]) {
      expect(parseManifestPublicKey(bad)).toBeUndefined()
    }
  })

  it('the edge signer derives the same public key and key id as the RFC 8032 vector', async () => {
    const signer = await createManifestSigner(PEM)
    expect(signer.publicKey).toBe(PUBLIC)
    expect(signer.keyId).toBe(await manifestKeyId(fromBase64Url(PUBLIC)!, nodeSha256))
  })
})

describe('signing and verifying', () => {
  it('a fixed manifest and key give a fixed signature (Ed25519 is deterministic)', async () => {
    const signer = await createManifestSigner(PEM)
    const { sig, keyId } = signer.sign(FIXED)
    const expected = sign(
      null,
      Buffer.from(MANIFEST_SIGNING_CONTEXT + serializeManifest(FIXED), 'utf8'),
      createPrivateKey(PEM)
    ).toString('base64url')
    expect(sig).toBe(expected)
    expect(fromBase64Url(sig)).toHaveLength(ED25519_SIGNATURE_BYTES)
    expect(verifyManifestSignature(FIXED, { keyId, sig }, PUBLIC)).toBe(true)
  })

  it('WebCrypto Ed25519 verifies what the edge signed, and nothing changed', async () => {
    const signer = await createManifestSigner(PEM)
    const m = await buildManifest(
      { url: 'https://origin.example/a.bin', chunkSize: 1024 },
      new Uint8Array(randomBytes(3000)),
      nodeSha256
    )
    const { sig } = signer.sign(m)
    const key = await crypto.subtle.importKey(
      'raw',
      fromBase64Url(PUBLIC)! as Uint8Array<ArrayBuffer>,
      { name: 'Ed25519' },
      false,
      ['verify']
    )
    const check = async (x: Manifest): Promise<boolean> =>
      await crypto.subtle.verify({ name: 'Ed25519' }, key, fromBase64Url(sig)!, manifestSigningBytes(x))
    expect(await check(m)).toBe(true)
    const variants: Manifest[] = [
      { ...m, url: m.url + '?x' },
      { ...m, type: 'text/html' },
      { ...m, etag: '"x"' },
      { ...m, size: m.size - 1, chunks: m.chunks },
      { ...m, chunks: [m.chunks[1]!, m.chunks[0]!, m.chunks[2]!] }
    ]
    for (const v of variants) expect(await check(v)).toBe(false)
  })
})

describe('serializeSignedManifest / parseManifest with signatures', () => {
  const sigs = [{ keyId: toBase64Url(new Uint8Array(8).fill(1)), sig: toBase64Url(new Uint8Array(64).fill(2)) }]

  it('puts "signatures" after chunks and round trips; without any it is the canonical form', () => {
    const text = serializeSignedManifest(FIXED, sigs)
    expect(text).toBe(serializeManifest(FIXED).slice(0, -1) + `,"signatures":${JSON.stringify(sigs)}}`)
    expect(parseManifest(text)).toEqual({ ...FIXED, signatures: sigs })
    expect(serializeSignedManifest(parseManifest(text))).toBe(text)
    expect(serializeSignedManifest(FIXED)).toBe(serializeManifest(FIXED))
    expect(parseManifest(serializeManifest(FIXED))).not.toHaveProperty('signatures')
  })

  it('does not change the resource id', async () => {
    expect(await resourceId(parseManifest(serializeSignedManifest(FIXED, sigs)), nodeSha256)).toBe(
      await resourceId(FIXED, nodeSha256)
    )
  })

  it('rejects malformed signatures with ERR_INVALID_MANIFEST', () => {
    const bad = (signatures: unknown): void => {
      expectCode(() => parseManifest(JSON.stringify({ ...FIXED, signatures })), 'ERR_INVALID_MANIFEST')
    }
    bad('x')
    bad({})
    bad([null])
    bad(['sig'])
    bad([{ keyId: sigs[0]!.keyId }])
    bad([{ sig: sigs[0]!.sig }])
    bad([{ ...sigs[0], keyId: toBase64Url(new Uint8Array(9)) }])
    bad([{ ...sigs[0], sig: toBase64Url(new Uint8Array(63)) }])
    bad([{ ...sigs[0], sig: sigs[0]!.sig + '=' }])
    bad(Array.from({ length: MAX_MANIFEST_SIGNATURES + 1 }, () => sigs[0]))
    expect(parseManifest(JSON.stringify({ ...FIXED, signatures: [] })).signatures).toEqual([])
  })
})

describe('sameResourceUrl', () => {
  it('ignores only the fragment', () => {
    expect(sameResourceUrl('https://o.example/a.js', 'https://o.example/a.js#x')).toBe(true)
    expect(sameResourceUrl('https://o.example/a.js', 'https://o.example/a.js?v=2')).toBe(false)
    expect(sameResourceUrl('https://o.example/a.js', 'https://o.example/b.js')).toBe(false)
    expect(sameResourceUrl('https://o.example/a.js', 'http://o.example/a.js')).toBe(false)
  })
})
