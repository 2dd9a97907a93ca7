/**
 * The manifest of one resource: size, type, version and the SHA-256 of every chunk.
 * Built by the edge while it fills from the origin; trusted by clients only when it
 * comes from an edge the page allows and, with a manifest key, only when a signature
 * verifies (`manifest-signature.ts`). A resource id is the SHA-256 of the serialized
 * manifest, so two versions of one URL never mix.
 */
import {
  DEFAULT_CHUNK_SIZE_BYTES,
  MANIFEST_VERSION,
  MAX_CHUNK_SIZE_BYTES,
  MAX_MANIFEST_BYTES,
  MAX_MANIFEST_CHUNKS,
  MAX_MANIFEST_ETAG_CHARS,
  MAX_MANIFEST_SIGNATURES,
  MAX_MANIFEST_TYPE_CHARS,
  MAX_MANIFEST_URL_CHARS,
  MIN_CHUNK_SIZE_BYTES
} from './constants.js'
import { bytesEqual, fromBase64Url, toBase64Url, toHex, utf8Encode } from './encoding.js'
import { InvalidManifestError } from './errors.js'

export interface Manifest {
  v: typeof MANIFEST_VERSION
  /** Absolute URL of the resource at the origin. */
  url: string
  /** Size in bytes. */
  size: number
  /** Content-Type of the resource. */
  type: string
  /** The origin's validator (ETag, else Last-Modified), or '' when it sent none. */
  etag: string
  /** Bytes per chunk; the last chunk may be shorter. */
  chunkSize: number
  hash: 'SHA-256'
  /** base64url SHA-256 of each chunk, in order. */
  chunks: string[]
  /**
   * Ed25519 signatures over the canonical manifest (`manifestSigningBytes`), one per
   * signing key. Not part of the canonical form, so not of the resource id either.
   */
  signatures?: ManifestSignature[]
}

/** One signature of a manifest (see `manifest-signature.ts` for the bytes signed). */
export interface ManifestSignature {
  /** base64url of the first 8 bytes of SHA-256(raw 32-byte Ed25519 public key): 11 chars. */
  keyId: string
  /** base64url of the 64-byte Ed25519 signature: 86 chars. */
  sig: string
}

/** Both Node (`crypto.subtle`, `createHash`) and browsers (`crypto.subtle`) can provide this. */
export type Sha256 = (data: Uint8Array) => Promise<Uint8Array>

export interface ManifestInit {
  url: string
  size: number
  type?: string
  etag?: string
  /** @default DEFAULT_CHUNK_SIZE_BYTES (256 KiB) */
  chunkSize?: number
}

const SHA256_BYTES = 32
export const KEY_ID_BYTES = 8
export const ED25519_SIGNATURE_BYTES = 64

export function chunkCount(size: number, chunkSize: number): number {
  return Math.ceil(size / chunkSize)
}

/** Byte range `[start, end)` of chunk `index`. */
export function chunkBounds(
  manifest: Pick<Manifest, 'size' | 'chunkSize'>,
  index: number
): { start: number; end: number } {
  const start = index * manifest.chunkSize
  return { start, end: Math.min(start + manifest.chunkSize, manifest.size) }
}

/**
 * Why a manifest with these fields would be outside the bounds in `constants.ts`, or
 * undefined when it is within them. One check for the edge (before it builds), the CLI
 * (before it reads a file) and `parseManifest`.
 */
export function manifestLimitProblem(init: {
  url: string
  size: number
  type?: string
  etag?: string
  chunkSize: number
}): string | undefined {
  const { url, size, chunkSize, type = '', etag = '' } = init
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE_BYTES || chunkSize > MAX_CHUNK_SIZE_BYTES) {
    return `chunkSize ${chunkSize} is outside ${MIN_CHUNK_SIZE_BYTES}-${MAX_CHUNK_SIZE_BYTES} bytes`
  }
  if (!Number.isSafeInteger(size) || size < 0) return `size ${size} is not a byte count`
  const chunks = chunkCount(size, chunkSize)
  if (chunks > MAX_MANIFEST_CHUNKS) {
    const enough = Math.ceil(size / MAX_MANIFEST_CHUNKS)
    return (
      `${size} bytes at chunkSize ${chunkSize} is ${chunks} chunks, over the ${MAX_MANIFEST_CHUNKS} a manifest may have ` +
      (enough <= MAX_CHUNK_SIZE_BYTES
        ? `(chunkSize ${enough} or more would do)`
        : `(no chunk size would do: over ${MAX_MANIFEST_CHUNKS * MAX_CHUNK_SIZE_BYTES} bytes)`)
    )
  }
  if (url.length === 0 || url.length > MAX_MANIFEST_URL_CHARS)
    return `url of ${url.length} characters is outside 1-${MAX_MANIFEST_URL_CHARS}`
  if (type.length > MAX_MANIFEST_TYPE_CHARS)
    return `type of ${type.length} characters is over ${MAX_MANIFEST_TYPE_CHARS}`
  if (etag.length > MAX_MANIFEST_ETAG_CHARS)
    return `etag of ${etag.length} characters is over ${MAX_MANIFEST_ETAG_CHARS}`
  return undefined
}

/** Assemble a manifest from per-chunk digests computed elsewhere (e.g. while streaming). */
export function createManifest(init: ManifestInit, chunkDigests: Uint8Array[]): Manifest {
  const chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE_BYTES
  const problem = manifestLimitProblem({ ...init, chunkSize })
  if (problem !== undefined) throw new InvalidManifestError(problem)
  const expected = chunkCount(init.size, chunkSize)
  if (chunkDigests.length !== expected) {
    throw new InvalidManifestError(
      `expected ${expected} chunk digests for ${init.size} bytes, got ${chunkDigests.length}`
    )
  }
  return {
    v: MANIFEST_VERSION,
    url: init.url,
    size: init.size,
    type: init.type ?? 'application/octet-stream',
    etag: init.etag ?? '',
    chunkSize,
    hash: 'SHA-256',
    chunks: chunkDigests.map(toBase64Url)
  }
}

/** Build a manifest from a whole body held in memory. */
export async function buildManifest(
  init: Omit<ManifestInit, 'size'>,
  body: Uint8Array,
  sha256: Sha256
): Promise<Manifest> {
  const chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE_BYTES
  const problem = manifestLimitProblem({ ...init, size: body.length, chunkSize })
  if (problem !== undefined) throw new InvalidManifestError(problem)
  const digests: Uint8Array[] = []
  for (let start = 0; start < body.length; start += chunkSize) {
    digests.push(await sha256(body.subarray(start, start + chunkSize)))
  }
  return createManifest({ ...init, size: body.length, chunkSize }, digests)
}

/** True when `bytes` are exactly chunk `index` of the manifest's resource. */
export async function verifyChunk(
  manifest: Manifest,
  index: number,
  bytes: Uint8Array,
  sha256: Sha256
): Promise<boolean> {
  const expected = manifest.chunks[index]
  if (expected === undefined) return false
  const { start, end } = chunkBounds(manifest, index)
  if (bytes.length !== end - start) return false
  const want = fromBase64Url(expected)
  return want !== undefined && bytesEqual(await sha256(bytes), want)
}

/**
 * Canonical JSON: fixed key order, so every party derives the same resource id and
 * signs or verifies the same bytes. Signatures are not part of it.
 */
export function serializeManifest(m: Manifest): string {
  return JSON.stringify({
    v: m.v,
    url: m.url,
    size: m.size,
    type: m.type,
    etag: m.etag,
    chunkSize: m.chunkSize,
    hash: m.hash,
    chunks: m.chunks
  })
}

/**
 * The manifest as served: the canonical JSON with `"signatures":[{"keyId","sig"}, ...]`
 * after `chunks` when there are any; without signatures it is `serializeManifest(m)`.
 */
export function serializeSignedManifest(m: Manifest, signatures: ManifestSignature[] = m.signatures ?? []): string {
  const canonical = serializeManifest(m)
  if (signatures.length === 0) return canonical
  const sigs = JSON.stringify(signatures.map(s => ({ keyId: s.keyId, sig: s.sig })))
  return `${canonical.slice(0, -1)},"signatures":${sigs}}`
}

/** Hex SHA-256 of the canonical manifest. */
export async function resourceId(manifest: Manifest, sha256: Sha256): Promise<string> {
  return toHex(await sha256(utf8Encode(serializeManifest(manifest))))
}

/**
 * Validate a manifest received from the network: well formed and within the bounds in
 * `constants.ts`. Throws `InvalidManifestError`.
 */
export function parseManifest(raw: string): Manifest {
  // Before JSON.parse: an oversized manifest is refused without building its object.
  // Characters are never more than UTF-8 bytes, so this holds for the byte bound too.
  if (raw.length > MAX_MANIFEST_BYTES)
    throw new InvalidManifestError(`manifest of ${raw.length} characters is over ${MAX_MANIFEST_BYTES}`)
  let m: unknown
  try {
    m = JSON.parse(raw)
  } catch {
    throw new InvalidManifestError('manifest is not JSON')
  }
  if (typeof m !== 'object' || m === null) throw new InvalidManifestError('manifest is not an object')
  const o = m as Record<string, unknown>
  const fail = (field: string): never => {
    throw new InvalidManifestError(`invalid manifest field: ${field}`)
  }
  if (o.v !== MANIFEST_VERSION) fail('v')
  if (typeof o.url !== 'string' || o.url.length === 0) fail('url')
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) fail('size')
  if (typeof o.type !== 'string') fail('type')
  if (typeof o.etag !== 'string') fail('etag')
  if (typeof o.chunkSize !== 'number' || !Number.isSafeInteger(o.chunkSize)) fail('chunkSize')
  if (o.hash !== 'SHA-256') fail('hash')
  const size = o.size as number
  const chunkSize = o.chunkSize as number
  const problem = manifestLimitProblem({
    url: o.url as string,
    size,
    type: o.type as string,
    etag: o.etag as string,
    chunkSize
  })
  if (problem !== undefined) throw new InvalidManifestError(`manifest out of bounds: ${problem}`)
  // Within the chunk count bound, a count that does not match size and chunkSize is malformed.
  if (!Array.isArray(o.chunks) || o.chunks.length !== chunkCount(size, chunkSize)) fail('chunks')
  for (const c of o.chunks as unknown[]) {
    if (typeof c !== 'string' || fromBase64Url(c)?.length !== SHA256_BYTES) fail('chunks')
  }
  const manifest: Manifest = {
    v: MANIFEST_VERSION,
    url: o.url as string,
    size,
    type: o.type as string,
    etag: o.etag as string,
    chunkSize,
    hash: 'SHA-256',
    chunks: o.chunks as string[]
  }
  // Optional: a manifest without signatures parses as before.
  if (o.signatures !== undefined) manifest.signatures = parseSignatures(o.signatures) ?? fail('signatures')
  return manifest
}

function parseSignatures(value: unknown): ManifestSignature[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_MANIFEST_SIGNATURES) return undefined
  const out: ManifestSignature[] = []
  for (const s of value as unknown[]) {
    if (typeof s !== 'object' || s === null) return undefined
    const { keyId, sig } = s as Record<string, unknown>
    if (typeof keyId !== 'string' || fromBase64Url(keyId)?.length !== KEY_ID_BYTES) return undefined
    if (typeof sig !== 'string' || fromBase64Url(sig)?.length !== ED25519_SIGNATURE_BYTES) return undefined
    out.push({ keyId, sig })
  }
  return out
}
