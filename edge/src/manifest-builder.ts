/**
 * Builds a manifest while the body streams in: each chunk is hashed as its bytes
 * arrive, so the body is never hashed in a second pass. A body or fields beyond the
 * manifest bounds (`constants.ts`) get no manifest: hashing stops once the body passes
 * MAX_MANIFEST_CHUNKS chunks, so an oversized resource costs no hashing and no digests.
 */
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'
import { createManifest, DEFAULT_CHUNK_SIZE_BYTES, manifestLimitProblem } from '../../protocol/src/index.js'
import type { Manifest, ManifestInit } from '../../protocol/src/index.js'

export interface ManifestBuilder {
  push: (bytes: Uint8Array) => void
  /** The manifest of every byte pushed so far, or undefined when it would be out of bounds (`refused`). Call once, at the end. */
  finish: () => Manifest | undefined
  readonly size: number
  /** Why no manifest will be built (out of bounds), once that is known. */
  readonly refused: string | undefined
}

/** @param declared the body's length when known ahead (Content-Length): an oversized one is refused before any hashing. */
export function createManifestBuilder(init: Omit<ManifestInit, 'size'>, declared?: number): ManifestBuilder {
  const chunkSize = init.chunkSize ?? DEFAULT_CHUNK_SIZE_BYTES
  const digests: Uint8Array[] = []
  let hash: Hash = createHash('sha256')
  let inChunk = 0
  let size = 0
  let refused = manifestLimitProblem({ ...init, chunkSize, size: declared ?? 0 })

  return {
    get size() {
      return size
    },
    get refused() {
      return refused
    },
    push(bytes) {
      size += bytes.length
      if (refused !== undefined) return
      const problem = manifestLimitProblem({ ...init, chunkSize, size })
      if (problem !== undefined) {
        refused = problem
        digests.length = 0
        return
      }
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
    },
    finish() {
      if (refused !== undefined) return undefined
      if (inChunk > 0) {
        digests.push(hash.digest())
        inChunk = 0
      }
      return createManifest({ ...init, chunkSize, size }, digests)
    }
  }
}
