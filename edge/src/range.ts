/** Single byte ranges (RFC 9110 §14). Multiple ranges are ignored: a full 200 is always allowed. */
import type { CacheEntry } from './cache/store.js'
import { header } from './cache/policy.js'

export type RangeResult =
  | { kind: 'none' }
  | { kind: 'range', start: number, end: number }
  | { kind: 'unsatisfiable' }

/** `end` is inclusive, as in Content-Range. A malformed header is ignored (§14.2). */
export function parseRange (value: string | undefined, size: number): RangeResult {
  if (value === undefined) return { kind: 'none' }
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(value)
  if (m === null) return { kind: 'none' }
  const [, first = '', last = ''] = m
  if (first === '' && last === '') return { kind: 'none' }
  if (first === '') {
    const suffix = Number(last)
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'range', start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(first)
  if (last !== '' && Number(last) < start) return { kind: 'none' }
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'range', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) }
}

/** `If-Range` (§13.1.5): the range applies only while the validator still matches, compared strongly. */
export function ifRangeMatches (value: string | undefined, entry: CacheEntry): boolean {
  if (value === undefined) return true
  const v = value.trim()
  if (v.startsWith('"') || v.startsWith('W/')) {
    const etag = header(entry.headers, 'etag')
    return !v.startsWith('W/') && etag !== undefined && !etag.startsWith('W/') && etag === v
  }
  return header(entry.headers, 'last-modified') === v
}

/** `If-None-Match` uses the weak comparison (§13.1.2). */
export function noneMatch (value: string | undefined, etag: string | undefined): boolean {
  if (value === undefined || etag === undefined) return false
  const strip = (t: string): string => t.trim().replace(/^W\//, '')
  if (value.trim() === '*') return true
  return value.split(',').some(t => strip(t) === strip(etag))
}
