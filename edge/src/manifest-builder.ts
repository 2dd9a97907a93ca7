/**
 * Builds a manifest while the body streams in: each chunk is hashed as its bytes
 * arrive, so the body is never hashed in a second pass.
 */
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'
import { createManifest, DEFAULT_CHUNK_SIZE_BYTES } from '../../protocol/src/index.js'
import type { Manifest, ManifestInit } from '../../protocol/src/index.js'

export interface ManifestBuilder {
  push: (bytes: Uint8Array) => void
  /** The manifest of every byte pushed so far. Call once, at the end. */
  finish: () => Manifest
  readonly size: number
}

export function createManifestBuilder (init: Omit<ManifestInit, 'size'>): ManifestBuilder {
  const chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE_BYTES
  const digests: Uint8Array[] = []
  let hash: Hash = createHash('sha256')
  let inChunk = 0
  let size = 0

  return {
    get size () { return size },
    push (bytes) {
      let offset = 0
      while (offset < bytes.length) {
        const take = Math.min(chunkSize - inChunk, bytes.length - offset)
        hash.update(bytes.subarray(offset, offset + take))
        offset += take
        inChunk += take
        if (inChunk === chunkSize) {
          digests.push(hash.digest())
          hash = createHash('sha256')
          inChunk = 0
        }
      }
      size += bytes.length
    },
    finish () {
      if (inChunk > 0) {
        digests.push(hash.digest())
        inChunk = 0
      }
      return createManifest({ ...init, chunkSize, size }, digests)
    }
  }
}
