import type { Manifest } from '../../../protocol/src/index.js'

/** What the client remembers about one resource it holds chunks of. */
export interface ResourceRecord {
  id: string
  manifest: Manifest
  /** Indices of the chunks held. */
  have: number[]
  /** Epoch milliseconds of the last use, for LRU eviction. */
  lastUsed: number
}

/**
 * Where verified chunks live between page loads. Every chunk put here has already been
 * checked against its manifest; readers still verify before use.
 */
export interface ChunkStore {
  readonly kind: 'indexeddb' | 'memory'
  /** All resource records, read once at start. */
  resources: () => Promise<ResourceRecord[]>
  putResource: (record: ResourceRecord) => Promise<void>
  getChunk: (resourceId: string, index: number) => Promise<Uint8Array | undefined>
  putChunk: (resourceId: string, index: number, bytes: Uint8Array) => Promise<void>
  /** Forget a resource: its record and the listed chunks. */
  deleteResource: (resourceId: string, indices: number[]) => Promise<void>
}

export function chunkKey(resourceId: string, index: number): string {
  return `${resourceId}:${index}`
}
