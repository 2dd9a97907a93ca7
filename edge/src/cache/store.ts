/** The cache store contract shared by the memory, disk and tiered stores. */
import type { Manifest } from '../../../protocol/src/index.js'
import type { Aging } from './policy.js'

export interface CacheEntry extends Aging {
  /** Path and query of the resource at the origin, e.g. `/v/a.mp4?q=1`. */
  key: string
  /** Absolute origin URL of the resource. */
  url: string
  /** Stored response headers: lowercase, without hop-by-hop, framing and Age. */
  headers: Record<string, string | string[]>
  body: Uint8Array
  /** Built while the body arrived from the origin. */
  manifest: Manifest
}

export interface CacheStore {
  get: (key: string) => Promise<CacheEntry | undefined>
  put: (entry: CacheEntry) => Promise<void>
  delete: (key: string) => Promise<void>
  /** Flush pending writes and release resources. Safe to call twice. */
  close: () => Promise<void>
}
