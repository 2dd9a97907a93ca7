/** The cache entry and the store contract shared by the memory and disk stores. */
import type { Manifest } from '../../../protocol/src/index.js'
import type { Aging, Freshness } from './policy.js'

export interface CacheEntry extends Aging, Freshness {
  /** Path and query of the resource at the origin, e.g. `/v/a.mp4?q=1`. */
  key: string
  /** The request header values the response varies on, serialized; `''` without `Vary`. */
  variant: string
  /** Lowercase field names of the response's `Vary`. */
  vary: string[]
  /** Absolute origin URL of the resource. */
  url: string
  status: number
  /** Stored response headers: lowercase, without hop-by-hop, framing and Age. */
  headers: Record<string, string | string[]>
  body: Buffer
  /** Built while the body arrived from the origin; only for 200 responses. */
  manifest: Manifest | undefined
}

/** Store ids: one per (key, variant). Keys never contain a newline (the URL parser encodes it). */
export function entryId(key: string, variant: string): string {
  return variant === '' ? key : `${key}\n${variant}`
}

export interface CacheStore {
  get: (id: string) => Promise<CacheEntry | undefined>
  put: (entry: CacheEntry) => Promise<void>
  delete: (id: string) => Promise<void>
  /** Flush pending writes and release resources. Safe to call twice. */
  close: () => Promise<void>
}
