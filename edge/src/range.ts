/** Byte ranges (RFC 9110 §14) and the conditionals that guard them. */
import { header, httpDate } from './cache/policy.js'
import type { HeaderBag } from './cache/policy.js'

export interface ByteRange {
  start: number
  /** Inclusive, as in Content-Range. */
  end: number
}

export type RangeResult = { kind: 'none' } | { kind: 'ranges'; ranges: ByteRange[] } | { kind: 'unsatisfiable' }

/** More ranges than this in one request is a denial-of-service pattern (§14.2): the whole object is sent instead. */
export const MAX_RANGES = 16

/** A malformed header, or one with too many ranges, is ignored (§14.2): a full 200 is always allowed. */
export function parseRange(value: string | undefined, size: number): RangeResult {
  if (value === undefined) return { kind: 'none' }
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(value)
  if (m === null) return { kind: 'none' }
  const specs = (m[1] ?? '')
    .split(',')
    .map(s => s.trim())
    .filter(s => s !== '')
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: 'none' }
  const ranges: ByteRange[] = []
  for (const spec of specs) {
    const r = /^(\d*)-(\d*)$/.exec(spec)
    if (r === null) return { kind: 'none' }
    const [, first = '', last = ''] = r
    if (first === '' && last === '') return { kind: 'none' }
    if (first === '') {
      const suffix = Number(last)
      if (suffix > 0 && size > 0) ranges.push({ start: Math.max(0, size - suffix), end: size - 1 })
      continue
    }
    const start = Number(first)
    if (last !== '' && Number(last) < start) return { kind: 'none' }
    if (start < size) ranges.push({ start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) })
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' }
  return { kind: 'ranges', ranges: ranges.length > 1 && overlap(ranges) ? coalesce(ranges) : ranges }
}

function overlap(ranges: readonly ByteRange[]): boolean {
  const sorted = [...ranges].sort((a, b) => a.start - b.start)
  for (let i = 1; i < sorted.length; i++)
    if ((sorted[i] as ByteRange).start <= (sorted[i - 1] as ByteRange).end) return true
  return false
}

/**
 * Overlapping ranges would send the same bytes several times (`bytes=0-,0-,...` is an
 * amplification attack): §14.2 lets a server coalesce them, in ascending order.
 */
function coalesce(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start)
  const out: ByteRange[] = []
  for (const r of sorted) {
    const last = out[out.length - 1]
    if (last !== undefined && r.start <= last.end + 1) last.end = Math.max(last.end, r.end)
    else out.push({ ...r })
  }
  return out
}

/** `If-Range` (§13.1.5): the range applies only while the validator still matches, compared strongly. */
export function ifRangeMatches(value: string | undefined, stored: HeaderBag): boolean {
  if (value === undefined) return true
  const v = value.trim()
  if (v.startsWith('"') || v.startsWith('W/')) {
    const etag = header(stored, 'etag')
    return !v.startsWith('W/') && etag !== undefined && !etag.startsWith('W/') && etag === v
  }
  return header(stored, 'last-modified') === v
}

/** `If-None-Match` uses the weak comparison (§13.1.2). */
export function noneMatch(value: string | undefined, etag: string | undefined): boolean {
  if (value === undefined || etag === undefined) return false
  const strip = (t: string): string => t.trim().replace(/^W\//, '')
  if (value.trim() === '*') return true
  return value.split(',').some(t => strip(t) === strip(etag))
}

/**
 * If-Modified-Since counts only without If-None-Match, and an invalid date in it is ignored
 * (RFC 9110 §13.1.3); so is one compared to an invalid Last-Modified.
 */
export function notModifiedSince(req: HeaderBag, stored: HeaderBag): boolean {
  const since = header(req, 'if-modified-since')
  const lastModified = header(stored, 'last-modified')
  if (req['if-none-match'] !== undefined || since === undefined || lastModified === undefined) return false
  const a = httpDate(since)
  const b = httpDate(lastModified)
  return a !== undefined && b !== undefined && b <= a
}

/** The client's conditionals say its copy is current: answer 304. */
export function clientHasCurrent(req: HeaderBag, stored: HeaderBag): boolean {
  return noneMatch(header(req, 'if-none-match'), header(stored, 'etag')) || notModifiedSince(req, stored)
}
