/**
 * Ed25519 signing of manifests in Node: the edge (`--manifest-key`) and
 * `p2pcdn manifest --sign` use it. The bytes signed are defined in
 * `protocol/src/manifest-signature.ts`; the browser verifies them with WebCrypto.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import {
  errorMessageOf,
  fromBase64Url,
  manifestKeyId,
  manifestSigningBytes,
  toBase64Url
} from '../../protocol/src/index.js'
import type { Manifest, ManifestSignature } from '../../protocol/src/index.js'
import { OptionError, optionError } from '../../service/src/options.js'

export interface ManifestSigner {
  /** Key id carried next to each signature (11 base64url chars). */
  readonly keyId: string
  /** The raw public key as base64url: the value of a page's `data-manifest-key`. */
  readonly publicKey: string
  sign: (manifest: Manifest) => ManifestSignature
}

/**
 * An Ed25519 private key from PEM (PKCS#8, as `p2pcdn keygen` writes it). Throws a
 * OptionError naming `what` for anything else, an RSA or EC key included.
 */
export function parseManifestPrivateKey(pem: string | Buffer, what = 'manifestKey'): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (err) {
    throw new OptionError(what, `not a PEM private key (${errorMessageOf(err)})`, {
      cause: err
    })
  }
  if (key.asymmetricKeyType !== 'ed25519') throw optionError(what, 'an Ed25519 key', String(key.asymmetricKeyType))
  return key
}

/** The raw 32-byte public key of an Ed25519 key object. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const jwk = createPublicKey(key).export({ format: 'jwk' })
  const raw = typeof jwk.x === 'string' ? fromBase64Url(jwk.x) : undefined
  if (raw?.length !== 32) throw new OptionError('manifestKey', 'could not derive the Ed25519 public key')
  return raw
}

const nodeSha256 = (data: Uint8Array): Promise<Uint8Array> =>
  Promise.resolve(new Uint8Array(createHash('sha256').update(data).digest()))

export async function createManifestSigner(pem: string | Buffer, what?: string): Promise<ManifestSigner> {
  const privateKey = parseManifestPrivateKey(pem, what)
  const raw = rawPublicKey(privateKey)
  const keyId = await manifestKeyId(raw, nodeSha256)
  return {
    keyId,
    publicKey: toBase64Url(raw),
    sign(manifest) {
      return { keyId, sig: toBase64Url(new Uint8Array(sign(null, manifestSigningBytes(manifest), privateKey))) }
    }
  }
}

/** A new key pair: PKCS#8 PEM private key and the raw public key as base64url. */
export function generateManifestKeyPair(): { privateKeyPem: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519')
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: toBase64Url(rawPublicKey(privateKey))
  }
}

/** Node-side check of one signature (tests and `p2pcdn manifest --verify` style tools). */
export function verifyManifestSignature(manifest: Manifest, signature: ManifestSignature, publicKey: string): boolean {
  const raw = fromBase64Url(publicKey)
  const sig = fromBase64Url(signature.sig)
  if (raw?.length !== 32 || sig === undefined) return false
  // SPKI DER for Ed25519 is a fixed 12-byte prefix and the raw key (RFC 8410).
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw])
  const key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
  return verify(null, manifestSigningBytes(manifest), key, sig)
}
