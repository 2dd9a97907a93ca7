/**
 * Signed manifests: the format and the bytes to sign. Signing happens in Node (the edge,
 * `p2pcdn manifest --sign`), verification in the browser with WebCrypto; this module
 * holds no crypto of its own, so both sides sign and verify exactly the same bytes.
 *
 * - Algorithm: Ed25519 (RFC 8032), pure, no prehash.
 * - Bytes signed: the UTF-8 of `MANIFEST_SIGNING_CONTEXT + serializeManifest(m)`, that is
 *   `p2pcdn-manifest-v1` and a newline, then the canonical manifest JSON (fixed key order:
 *   v, url, size, type, etag, chunkSize, hash, chunks; no whitespace; no signatures).
 *   The prefix keeps a manifest signature from ever being valid as any other message.
 * - Public key: the raw 32 bytes, written as base64url without padding (43 chars): this
 *   is what a page puts in `data-manifest-key`.
 * - Key id: base64url of the first 8 bytes of SHA-256 of the raw public key (11 chars).
 * - On the wire: `"signatures":[{"keyId":"...","sig":"<base64url of 64 bytes>"}]` after
 *   `chunks` (`serializeSignedManifest`). A manifest without it still parses.
 *
 * What a signature binds: the URL, size, type, validator, chunk size and every chunk
 * hash. It does not expire: a signed manifest of an older version of a URL stays valid
 * until the key is rotated (see README, Trust model).
 */
import { fromBase64Url, toBase64Url, utf8Encode } from './encoding.js'
import { KEY_ID_BYTES, serializeManifest, type Manifest, type Sha256 } from './manifest.js'

/** Domain separation: what comes before the canonical JSON in the signed bytes. */
export const MANIFEST_SIGNING_CONTEXT = 'p2pcdn-manifest-v1\n'

export const ED25519_PUBLIC_KEY_BYTES = 32

/** The exact bytes an Ed25519 manifest signature covers. */
export function manifestSigningBytes(m: Manifest): Uint8Array {
  return utf8Encode(MANIFEST_SIGNING_CONTEXT + serializeManifest(m))
}

/** The key id of a raw Ed25519 public key: base64url of SHA-256(key)[0..8). */
export async function manifestKeyId(publicKey: Uint8Array, sha256: Sha256): Promise<string> {
  return toBase64Url((await sha256(publicKey)).subarray(0, KEY_ID_BYTES))
}

/** A raw Ed25519 public key from its base64url text; undefined when it is not one. */
export function parseManifestPublicKey(text: string): Uint8Array | undefined {
  const bytes = /^[A-Za-z0-9_-]{43}$/.test(text) ? fromBase64Url(text) : undefined
  return bytes?.length === ED25519_PUBLIC_KEY_BYTES ? bytes : undefined
}

/** The manifest's URL without a fragment: what a signature must name for a fetch of `url`. */
export function sameResourceUrl(manifestUrl: string, url: string): boolean {
  const strip = (u: string): string => {
    const at = u.indexOf('#')
    return at === -1 ? u : u.slice(0, at)
  }
  return strip(manifestUrl) === strip(url)
}
