/** RFC 9111 freshness math and directive parsing, as pure functions. */
import { describe, expect, it } from 'vitest'
import {
  ageHeaderS,
  decideStorable,
  heuristicLifetimeS,
  HEURISTIC_MAX_S,
  initialAgeS,
  parseCacheControl,
  withinStaleWindow
} from '../../../edge/src/cache/policy.js'
import { parseRange } from '../../../edge/src/range.js'
import { variantOf } from '../../../edge/src/cache/cache.js'

const GET = { method: 'GET', authorization: false, cookie: false, noStore: false }

describe('cache policy', () => {
  it('parses directives, unquoting values and marking conflicting repeats invalid', () => {
    const d = parseCacheControl('Max-Age=60, no-cache="Set-Cookie, X-A", public, max-age=60')
    expect(d.get('max-age')).toBe('60')
    expect(d.get('no-cache')).toBe('Set-Cookie, X-A')
    expect(d.get('public')).toBe(true)
    expect(parseCacheControl('max-age=1, max-age=2').get('max-age')).toBe('')
  })

  it('decides storability and lifetime', () => {
    const ok = decideStorable(GET, 200, { 'cache-control': 'max-age=10, s-maxage=20' })
    expect(ok.storable && ok.lifetimeS).toBe(20)
    expect(ok.storable && ok.mustRevalidate).toBe(true)
    expect(decideStorable(GET, 200, { 'cache-control': 'private' }).storable).toBe(false)
    const qualified = decideStorable(GET, 200, { 'cache-control': 'max-age=5, private="set-cookie"' })
    expect(qualified.storable && qualified.dropFields).toEqual(['set-cookie'])
    expect(decideStorable(GET, 302, {}).storable).toBe(false)
    expect(
      decideStorable(GET, 302, { 'cache-control': 'public', 'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT' }).storable
    ).toBe(true)
    // Without Last-Modified there is no heuristic lifetime, and without a validator nothing to revalidate.
    expect(decideStorable(GET, 302, { 'cache-control': 'public' }).storable).toBe(false)
    expect(decideStorable(GET, 404, {}).storable).toBe(false)
    // An error needs an explicit lifetime even when public (CPDoS).
    expect(
      decideStorable(GET, 400, { 'cache-control': 'public', 'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT' }).storable
    ).toBe(false)
    expect(decideStorable(GET, 404, { 'cache-control': 'max-age=60' }).storable).toBe(true)
    expect(decideStorable({ ...GET, method: 'POST' }, 200, { 'cache-control': 'max-age=5' }).storable).toBe(false)
    expect(decideStorable({ ...GET, authorization: true }, 200, { 'cache-control': 'max-age=5' }).storable).toBe(false)
    // Cookies and Set-Cookie keep a response out unless the origin made it public.
    expect(decideStorable({ ...GET, cookie: true }, 200, { 'cache-control': 'max-age=5' }).storable).toBe(false)
    expect(decideStorable(GET, 200, { 'cache-control': 'max-age=5', 'set-cookie': 'a=1' }).storable).toBe(false)
    const shared = decideStorable({ ...GET, cookie: true }, 200, {
      'cache-control': 'public, max-age=5',
      'set-cookie': 'a=1'
    })
    expect(shared.storable && shared.shared).toBe(true)
    expect(decideStorable({ ...GET, cookie: true }, 200, { 'cdn-cache-control': 'max-age=5' }).storable).toBe(true)
    const cdn = decideStorable(GET, 200, { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=7' })
    expect(cdn.storable && cdn.lifetimeS).toBe(7)
  })

  it('computes heuristic freshness and ages', () => {
    const date = 'Wed, 01 Jan 2025 00:00:00 GMT'
    expect(heuristicLifetimeS({ date, 'last-modified': 'Wed, 01 Jan 2025 00:00:00 GMT' })).toBe(0)
    expect(heuristicLifetimeS({ date, 'last-modified': 'Tue, 31 Dec 2024 23:00:00 GMT' })).toBe(360)
    expect(heuristicLifetimeS({ date, 'last-modified': 'Mon, 01 Jan 2024 00:00:00 GMT' })).toBe(HEURISTIC_MAX_S)
    expect(ageHeaderS({ age: '12, 40' })).toBe(12)
    expect(ageHeaderS({ age: '-3' })).toBe(0)
    const now = Date.parse(date)
    expect(initialAgeS({ date: 'Tue, 31 Dec 2024 23:59:00 GMT', age: '10' }, now - 2000, now)).toBe(60)
    expect(initialAgeS({ age: '10' }, now - 2000, now)).toBe(12)
  })

  it('allows stale use only within the window and never with must-revalidate', () => {
    const base = {
      responseTime: 0,
      initialAgeS: 0,
      lifetimeS: 10,
      heuristic: false,
      noCache: false,
      mustRevalidate: false,
      staleWhileRevalidateS: 0,
      staleIfErrorS: 60,
      dropFields: [],
      shared: false
    }
    expect(withinStaleWindow(base, 30_000, 60)).toBe(true)
    expect(withinStaleWindow(base, 80_000, 60)).toBe(false)
    expect(withinStaleWindow({ ...base, mustRevalidate: true }, 30_000, 60)).toBe(false)
  })
})

describe('ranges and variants', () => {
  it('parses single, suffix and multiple ranges', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 0, end: 9 }] })
    expect(parseRange('bytes=0-9, 20-29', 100)).toEqual({
      kind: 'ranges',
      ranges: [
        { start: 0, end: 9 },
        { start: 20, end: 29 }
      ]
    })
    // Overlapping ranges are coalesced (RFC 9110 §14.2), so no byte is sent twice.
    expect(parseRange('bytes=-10, 95-', 100)).toEqual({ kind: 'ranges', ranges: [{ start: 90, end: 99 }] })
    expect(parseRange(`bytes=${Array(16).fill('0-').join(',')}`, 100)).toEqual({
      kind: 'ranges',
      ranges: [{ start: 0, end: 99 }]
    })
    expect(parseRange('bytes=50-59, 0-9, 5-20', 100)).toEqual({
      kind: 'ranges',
      ranges: [
        { start: 0, end: 20 },
        { start: 50, end: 59 }
      ]
    })
    expect(parseRange('bytes=200-300', 100)).toEqual({ kind: 'unsatisfiable' })
    expect(parseRange('bytes=9-1', 100)).toEqual({ kind: 'none' })
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'none' })
  })

  it('normalizes varied header values and ignores Accept-Encoding', () => {
    expect(variantOf(['accept-language'], { 'accept-language': 'fr ,  de' })).toBe(
      variantOf(['accept-language'], { 'accept-language': 'fr,de' })
    )
    expect(variantOf(['accept-encoding'], { 'accept-encoding': 'gzip' })).toBe(variantOf(['accept-encoding'], {}))
  })
})
