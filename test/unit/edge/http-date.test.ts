/** Strict HTTP-date parsing (RFC 9110 §5.6.7) and where the edge relies on it. */
import { describe, expect, it } from 'vitest'
import { parseHttpDate } from '../../../edge/src/cache/http-date.js'
import { decideStorable } from '../../../edge/src/cache/policy.js'
import { notModifiedSince } from '../../../edge/src/range.js'

const GET = { method: 'GET', authorization: false, cookie: false, noStore: false }
/** 1994-11-06T08:49:37Z, the example of §5.6.7 in all three forms. */
const EXAMPLE = Date.UTC(1994, 10, 6, 8, 49, 37)
/** A fixed "now" in 2026, so two-digit years resolve the same on every run. */
const NOW_2026 = Date.UTC(2026, 0, 15, 12, 0, 0)

describe('parseHttpDate', () => {
  it('accepts the three formats of §5.6.7', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT', NOW_2026)).toBe(EXAMPLE)
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW_2026)).toBe(EXAMPLE)
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994', NOW_2026)).toBe(EXAMPLE)
    expect(parseHttpDate('Sun Nov 06 08:49:37 1994', NOW_2026)).toBe(EXAMPLE)
    expect(parseHttpDate('Thu, 18 Aug 2050 02:01:18 GMT')).toBe(Date.UTC(2050, 7, 18, 2, 1, 18))
    expect(parseHttpDate('Tue, 29 Feb 2000 00:00:00 GMT')).toBe(Date.UTC(2000, 1, 29))
    expect(parseHttpDate(new Date(EXAMPLE).toUTCString())).toBe(EXAMPLE)
  })

  it('reads an rfc850 year more than 50 years ahead as the latest past year with those digits', () => {
    expect(parseHttpDate('Thursday, 18-Aug-50 02:01:18 GMT', NOW_2026)).toBe(Date.UTC(2050, 7, 18, 2, 1, 18))
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT', NOW_2026)).toBe(EXAMPLE)
    // 2076-01-15 12:00 is exactly 50 years ahead: not more, so it stays in this century...
    expect(parseHttpDate('Wednesday, 15-Jan-76 12:00:00 GMT', NOW_2026)).toBe(Date.UTC(2076, 0, 15, 12))
    // ...one second later it is more than 50 years ahead, so it is 1976 (a Thursday).
    expect(parseHttpDate('Thursday, 15-Jan-76 12:00:01 GMT', NOW_2026)).toBe(Date.UTC(1976, 0, 15, 12, 0, 1))
    // Read late in a century, a small two-digit year points into the next one.
    expect(parseHttpDate('Wednesday, 01-Jan-10 00:00:00 GMT', Date.UTC(2095, 0, 1))).toBe(Date.UTC(2110, 0, 1))
    // The weekday is checked against the year as resolved: 2010-01-01 was a Friday.
    expect(parseHttpDate('Friday, 01-Jan-10 00:00:00 GMT', NOW_2026)).toBe(Date.UTC(2010, 0, 1))
    expect(parseHttpDate('Wednesday, 01-Jan-10 00:00:00 GMT', NOW_2026)).toBeUndefined()
  })

  it('rejects what Date.parse would accept', () => {
    const invalid = [
      'Thu, 18 Aug 2050 02:01:18 UTC',
      'Thu 18 Aug 2050 02:01:18 GMT',
      'Thu,  18 Aug 2050 02:01:18 GMT',
      'Thu, 18 Aug 2050  02:01:18 GMT',
      'Thu, 18-Aug-2050 02:01:18 GMT',
      'Thu, 18 Aug 2050 2:01:18 GMT',
      'Thu, 8 Aug 2050 02:01:18 GMT',
      'Thursday, 18 Aug 2050 02:01:18 GMT',
      'thu, 18 Aug 2050 02:01:18 GMT',
      'Thu, 18 aug 2050 02:01:18 GMT',
      'Thu, 18 Aug 2050 02:01:18 gmt',
      'Thu, 18 Aug 2050 02:01:18 +0000',
      'Thu, 18 Aug 2050 02:01:18',
      ' Thu, 18 Aug 2050 02:01:18 GMT',
      'Fri, 18 Aug 2050 02:01:18 GMT',
      'Thu, 18 Aug 2050 24:00:00 GMT',
      'Thu, 18 Aug 2050 23:60:00 GMT',
      'Thu, 18 Aug 2050 23:59:61 GMT',
      'Thu, 32 Aug 2050 02:01:18 GMT',
      'Thu, 00 Aug 2050 02:01:18 GMT',
      'Mon, 29 Feb 2100 00:00:00 GMT',
      'Thu, 31 Apr 2050 00:00:00 GMT',
      'Thu, 18 Aug 50 02:01:18 GMT',
      'Thu, 18-Aug-50 02:01:18 GMT',
      'Thursday, 18-Aug-2050 02:01:18 GMT',
      'Thursday, 18-Aug-50 02:01:18 UTC',
      'Thu Aug 18 02:01:18 2050 GMT',
      'Thu Aug 18 2:01:18 2050',
      '2050-08-18T02:01:18Z',
      '2050',
      '0',
      ''
    ]
    for (const value of invalid) expect(parseHttpDate(value, NOW_2026), value).toBeUndefined()
  })

  it('takes second 60 as a leap second', () => {
    expect(parseHttpDate('Sat, 31 Dec 2016 23:59:60 GMT')).toBe(Date.UTC(2017, 0, 1))
  })
})

describe('strict dates in the cache rules', () => {
  const ahead = Date.now() + 3_600_000
  const valid = new Date(ahead).toUTCString()
  it('counts an invalid Expires as already expired (RFC 9111 §5.3)', () => {
    const ok = decideStorable(GET, 200, { expires: valid, etag: '"e"' })
    expect(ok.storable && ok.lifetimeS).toBeGreaterThan(3590)
    const utc = decideStorable(GET, 200, { expires: valid.replace('GMT', 'UTC'), etag: '"e"' })
    expect(utc.storable && utc.lifetimeS).toBe(0)
  })

  it('ignores an invalid If-Modified-Since (RFC 9110 §13.1.3)', () => {
    const stored = { 'last-modified': 'Sun, 06 Nov 1994 08:49:37 GMT' }
    expect(notModifiedSince({ 'if-modified-since': 'Mon, 07 Nov 1994 08:49:37 GMT' }, stored)).toBe(true)
    expect(notModifiedSince({ 'if-modified-since': 'Mon, 07 Nov 1994 08:49:37 UTC' }, stored)).toBe(false)
    expect(notModifiedSince({ 'if-modified-since': 'Monday, 07-Nov-94 08:49:37 GMT' }, stored)).toBe(true)
  })
})
