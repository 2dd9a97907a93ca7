/** CDN-Cache-Control as a Structured Field Dictionary (RFC 9213 §2.1, RFC 9651). */
import { describe, expect, it } from 'vitest'
import { parseCdnCacheControl } from '../../../edge/src/cache/cdn-cache-control.js'
import { decideStorable, responseDirectives } from '../../../edge/src/cache/policy.js'

const GET = { method: 'GET', authorization: false, cookie: false, noStore: false }

describe('parseCdnCacheControl', () => {
  it('maps valid members onto the Cache-Control shape', () => {
    expect(parseCdnCacheControl('max-age=600')).toEqual(new Map([['max-age', '600']]))
    expect(parseCdnCacheControl('max-age=600, stale-while-revalidate=30')).toEqual(
      new Map<string, string | true>([
        ['max-age', '600'],
        ['stale-while-revalidate', '30']
      ])
    )
    for (const flag of ['no-store', 'private', 'public', 'no-cache', 'must-revalidate', 'proxy-revalidate']) {
      expect(parseCdnCacheControl(flag), flag).toEqual(new Map([[flag, true]]))
    }
    expect(parseCdnCacheControl('no-cache="set-cookie, x-a"')?.get('no-cache')).toBe('set-cookie, x-a')
    expect(parseCdnCacheControl('max-age=0')?.get('max-age')).toBe('0')
    // Parameters are allowed by the syntax and carry nothing a directive uses.
    expect(parseCdnCacheControl('max-age=60;foo=bar')?.get('max-age')).toBe('60')
    // A repeated key keeps its last value (RFC 9651 §4.2.2).
    expect(parseCdnCacheControl('max-age=1.5, max-age=10')?.get('max-age')).toBe('10')
    // Unknown extensions of any type do not invalidate the field.
    expect(parseCdnCacheControl('max-age=60, foo=1.5, bar=(a b), baz=:AQID:, none')?.get('max-age')).toBe('60')
    expect(parseCdnCacheControl('max-age=60, x="a, max-age=1.5"')?.get('max-age')).toBe('60')
  })

  it('rejects the whole field when it is not a Dictionary or a known directive is mistyped', () => {
    const invalid = [
      '',
      '  ',
      'max-age=10000, &&&&&',
      'max-age="10000"',
      'max-age=1.5',
      'max-age=1.0',
      'max-age=-1',
      'max-age=abc',
      'max-age=?1',
      'max-age=(1 2)',
      's-maxage="5"',
      'stale-while-revalidate=1.5',
      'stale-if-error=-3',
      'no-store=?0',
      'no-store=1',
      'public="yes"',
      'private=1',
      'no-cache=abc',
      'Max-Age=60',
      'max-age = 60',
      'max-age=60,'
    ]
    for (const value of invalid) expect(parseCdnCacheControl(value), JSON.stringify(value)).toBeUndefined()
  })
})

describe('CDN-Cache-Control in the cache rules', () => {
  it('falls back to Cache-Control and Expires when the targeted field is invalid', () => {
    expect(responseDirectives({ 'cdn-cache-control': 'max-age=600', 'cache-control': 'no-store' })).toEqual({
      directives: new Map([['max-age', '600']]),
      targeted: true
    })
    const bad = responseDirectives({ 'cdn-cache-control': 'max-age="600"', 'cache-control': 'no-store' })
    expect(bad.targeted).toBe(false)
    expect(bad.directives.has('no-store')).toBe(true)
    expect(
      decideStorable(GET, 200, { 'cdn-cache-control': 'max-age=10000, &&&&&', 'cache-control': 'no-store' }).storable
    ).toBe(false)
    const expires = new Date(Date.now() + 3_600_000).toUTCString()
    const viaExpires = decideStorable(GET, 200, { 'cdn-cache-control': 'max-age=1.5', expires })
    expect(viaExpires.storable && viaExpires.lifetimeS).toBeGreaterThan(3590)
    // A valid targeted field ignores Expires (RFC 9213 §2.1), so this is heuristic.
    const valid = decideStorable(GET, 200, {
      'cdn-cache-control': 'public',
      expires,
      'last-modified': new Date(Date.now() - 86_400_000).toUTCString()
    })
    expect(valid.storable && valid.heuristic).toBe(true)
  })
})
