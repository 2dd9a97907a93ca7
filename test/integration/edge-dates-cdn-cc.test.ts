/**
 * Strict HTTP-dates (RFC 9110 §5.6.7) and Structured-Field CDN-Cache-Control (RFC 9213
 * §2.1), each against a real edge in front of an origin that counts its requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEdge } from '../../edge/src/index.js'
import type { Edge } from '../../edge/src/index.js'
import { startOrigin } from '../helpers/origin.js'
import type { OriginFile, TestOrigin } from '../helpers/origin.js'

let origin: TestOrigin
let edge: Edge

beforeAll(async () => {
  origin = await startOrigin({})
  edge = createEdge({ origin: origin.url, port: 0 })
  await edge.start()
})

afterAll(async () => {
  await edge.stop()
  await origin.close()
})

interface Got {
  status: number
  headers: Headers
  body: string
}

async function get(path: string, headers: Record<string, string> = {}): Promise<Got> {
  const res = await fetch(edge.url + path, { headers })
  return { status: res.status, headers: res.headers, body: await res.text() }
}

let n = 0
function serve(file: OriginFile): string {
  const path = `/d${n++}`
  origin.files[path] = file
  return path
}

const count = (path: string): number => origin.requests.get(path) ?? 0
const lastOriginRequest = (path: string): Record<string, string | string[] | undefined> | undefined =>
  origin.log.filter(r => r.url === path).at(-1)?.headers

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (x: number): string => String(x).padStart(2, '0')
const clock = (d: Date): string => `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`

/** Fetch twice; true when the second one was a HIT without reaching the origin. */
async function servedFresh(headers: Record<string, string>): Promise<{ fresh: boolean; path: string; second: Got }> {
  const path = serve({ body: 'x', headers })
  const first = await get(path)
  expect(first.status).toBe(200)
  const second = await get(path)
  expect(second.status).toBe(200)
  const fresh = count(path) === 1
  if (fresh) expect(second.headers.get('x-cache')).toBe('HIT')
  return { fresh, path, second }
}

describe('Expires must be a valid HTTP-date (RFC 9110 §5.6.7, RFC 9111 §5.3)', () => {
  const ahead = new Date(Date.now() + 3_600_000)
  const imf = ahead.toUTCString()
  // A 1-digit hour needs an hour below 10: tomorrow at 05:xx is in the future whatever the time now.
  const early = new Date(Date.now() + 86_400_000)
  early.setUTCHours(5)
  const wrongDay = DAYS[(ahead.getUTCDay() + 1) % 7] ?? ''

  it('serves a valid date an hour ahead fresh, in each of the three formats', async () => {
    const valid = [
      imf,
      `${LONG_DAYS[ahead.getUTCDay()] ?? ''}, ${two(ahead.getUTCDate())}-${MONTHS[ahead.getUTCMonth()] ?? ''}-${two(ahead.getUTCFullYear() % 100)} ${clock(ahead)} GMT`,
      `${DAYS[ahead.getUTCDay()] ?? ''} ${MONTHS[ahead.getUTCMonth()] ?? ''} ${String(ahead.getUTCDate()).padStart(2, ' ')} ${clock(ahead)} ${ahead.getUTCFullYear()}`,
      early.toUTCString()
    ]
    for (const expires of valid) {
      const { fresh } = await servedFresh({ Expires: expires })
      expect(fresh, expires).toBe(true)
    }
  })

  it('counts an invalid Expires as already expired, so the entry is revalidated', async () => {
    // Each of these is accepted by Date.parse, which the edge used before.
    const invalid = [
      imf.replace('GMT', 'UTC'),
      imf.replace(',', ''),
      imf.replace(' ', '  '),
      imf.replace(/ (\d\d) (\w{3}) (\d{4}) /, ' $1-$2-$3 '),
      early.toUTCString().replace(' 05:', ' 5:'),
      `${wrongDay}${imf.slice(3)}`,
      `${LONG_DAYS[ahead.getUTCDay()] ?? ''}${imf.slice(3)}`,
      imf.toLowerCase(),
      // No 31 June: Date.parse rolls it over to 1 July, whose weekday this names.
      `${DAYS[new Date(Date.UTC(ahead.getUTCFullYear() + 1, 6, 1)).getUTCDay()] ?? ''}, 31 Jun ${ahead.getUTCFullYear() + 1} ${clock(ahead)} GMT`
    ]
    for (const expires of invalid) {
      const { fresh, path } = await servedFresh({ Expires: expires })
      expect(fresh, expires).toBe(false)
      expect(count(path), expires).toBe(2)
      // The stored copy was kept and validated with its ETag, not dropped.
      expect(lastOriginRequest(path)?.['if-none-match'], expires).toBeDefined()
    }
  })

  it('ignores an invalid If-Modified-Since from a client (RFC 9110 §13.1.3)', async () => {
    const lastModified = 'Sun, 06 Nov 1994 08:49:37 GMT'
    const path = serve({ body: 'ims', headers: { 'Cache-Control': 'max-age=600', 'Last-Modified': lastModified } })
    await get(path)
    expect((await get(path, { 'If-Modified-Since': 'Mon, 07 Nov 1994 08:49:37 GMT' })).status).toBe(304)
    const ignored = await get(path, { 'If-Modified-Since': 'Mon, 07 Nov 1994 08:49:37 UTC' })
    expect(ignored.status).toBe(200)
    expect(ignored.body).toBe('ims')
    expect(count(path)).toBe(1)
  })
})

describe('CDN-Cache-Control is a Structured Field Dictionary (RFC 9213 §2.1)', () => {
  it('ignores a field that does not parse and obeys Cache-Control: no-store instead', async () => {
    const { fresh, path } = await servedFresh({
      'CDN-Cache-Control': 'max-age=10000, &&&&&',
      'Cache-Control': 'no-store'
    })
    expect(fresh).toBe(false)
    // Not stored at all: the second request is a plain fetch, not a revalidation.
    expect(lastOriginRequest(path)?.['if-none-match']).toBeUndefined()
  })

  it('ignores a field whose max-age is a String and revalidates per Cache-Control: max-age=0', async () => {
    const { fresh, path } = await servedFresh({
      'CDN-Cache-Control': 'max-age="10000"',
      'Cache-Control': 'max-age=0',
      ETag: '"cdn"'
    })
    expect(fresh).toBe(false)
    expect(lastOriginRequest(path)?.['if-none-match']).toBe('"cdn"')
  })

  it('ignores a field whose max-age is a Decimal and falls back to Expires', async () => {
    const viaExpires = await servedFresh({
      'CDN-Cache-Control': 'max-age=1.5',
      Expires: new Date(Date.now() + 3_600_000).toUTCString()
    })
    expect(viaExpires.fresh).toBe(true)
    const negative = await servedFresh({ 'CDN-Cache-Control': 'max-age=-1', 'Cache-Control': 'no-store' })
    expect(negative.fresh).toBe(false)
  })

  it('obeys a valid field over Cache-Control and passes Cache-Control on unchanged', async () => {
    const { fresh, second } = await servedFresh({ 'CDN-Cache-Control': 'max-age=600', 'Cache-Control': 'no-store' })
    expect(fresh).toBe(true)
    expect(second.headers.get('cache-control')).toBe('no-store')
    const swr = await servedFresh({
      'CDN-Cache-Control': 'max-age=600, stale-while-revalidate=30',
      'Cache-Control': 'no-store'
    })
    expect(swr.fresh).toBe(true)
    const notHere = await servedFresh({ 'CDN-Cache-Control': 'no-store', 'Cache-Control': 'max-age=600' })
    expect(notHere.fresh).toBe(false)
  })
})
