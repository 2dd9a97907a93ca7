import {
  fromBase64Url,
  manifestKeyId,
  manifestSigningBytes,
  parseManifestPublicKey,
  sameResourceUrl,
  SignatureError,
  type Manifest,
  errorMessageOf
} from '../../protocol/src/index.js'
import { sha256 } from './sha256.js'

type VerifyKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>

/**
 * Checks manifests against the page's `manifestKey`s with WebCrypto Ed25519
 * (`crypto.subtle.verify({ name: 'Ed25519' }, ...)`: Chromium 137+, Firefox 129+,
 * Safari 17+). Where WebCrypto has no Ed25519 the keys cannot be imported and every
 * manifest is refused, so the SDK takes each resource from the origin directly: a key
 * the page carries is never ignored.
 */
export class ManifestVerifier {
  /** Imported keys by key id; rejects when this browser cannot import Ed25519 keys. */
  readonly #keys: Promise<Map<string, VerifyKey>>

  constructor(publicKeys: readonly string[]) {
    this.#keys = importKeys(publicKeys)
    this.#keys.catch(() => {})
  }

  /** An `ERR_SIGNATURE` error where this browser cannot import Ed25519 keys (then nothing verifies), else undefined. */
  async unavailable(): Promise<SignatureError | undefined> {
    return await this.#keys.then(
      () => undefined,
      (err: unknown) =>
        new SignatureError(
          `this browser cannot verify Ed25519 manifest signatures (${errorMessageOf(err)}): loading from the origin`
        )
    )
  }

  /**
   * Resolves when a configured key signed `manifest` and it names `url`; otherwise
   * rejects with `ERR_SIGNATURE` and the reason.
   */
  async verify(manifest: Manifest, url: string): Promise<void> {
    const missing = await this.unavailable()
    if (missing !== undefined) throw missing
    const keys = await this.#keys
    const signatures = manifest.signatures ?? []
    if (signatures.length === 0) throw new SignatureError(`manifest of ${manifest.url} is not signed`)
    const data = manifestSigningBytes(manifest) as Uint8Array<ArrayBuffer>
    let known = false
    for (const { keyId, sig } of signatures) {
      const key = keys.get(keyId)
      const bytes = fromBase64Url(sig)
      if (key === undefined || bytes === undefined) continue
      known = true
      if (await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes as Uint8Array<ArrayBuffer>, data)) {
        // A valid signature on another resource's manifest must not stand in for this one.
        if (!sameResourceUrl(manifest.url, url))
          throw new SignatureError(`signed manifest is for ${manifest.url}, not ${url}`)
        return
      }
    }
    throw new SignatureError(
      known
        ? `manifest signature of ${manifest.url} does not verify`
        : `manifest of ${manifest.url} is signed by no configured key`
    )
  }
}

async function importKeys(publicKeys: readonly string[]): Promise<Map<string, VerifyKey>> {
  const keys = new Map<string, VerifyKey>()
  for (const text of publicKeys) {
    const raw = parseManifestPublicKey(text)
    if (raw === undefined) continue // resolveConfig already refused it
    const key = await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, { name: 'Ed25519' }, false, [
      'verify'
    ])
    keys.set(await manifestKeyId(raw, sha256), key)
  }
  return keys
}
