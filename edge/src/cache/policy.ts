/**
 * RFC 9111 shared-cache rules as pure functions: may a response be stored, for how
 * long is it fresh, how old is it, may a stale copy be used.
 * https://www.rfc-editor.org/rfc/rfc9111
 *
 * `CDN-Cache-Control` (RFC 9213), when present and valid, replaces `Cache-Control` for this cache.
 */
import { parseCdnCacheControl } from './cdn-cache-control.js'
import type { Directives } from './cdn-cache-control.js'
import { parseHttpDate } from './http-date.js'

/** Lowercase header names, as Node's `IncomingHttpHeaders`. */
export type HeaderBag = Record<string, string | string[] | undefined>

export type { Directives }

/** What the edge needs to know about a stored response to decide how to use it. */
export interface Freshness {
  /** Freshness lifetime in seconds (0 when it must be validated before every use). */
  lifetimeS: number
  heuristic: boolean
  /** `no-cache` (unqualified): validate before every use. */
  noCache: boolean
  /** `must-revalidate`, `proxy-revalidate` or `s-maxage`: never serve stale (§5.2.2.2, §5.2.2.8, §5.2.2.10). */
  mustRevalidate: boolean
  /** `stale-while-revalidate` seconds (RFC 5861), 0 when absent. */
  staleWhileRevalidateS: number
  /** `stale-if-error` seconds (RFC 5861), 0 when absent. */
  staleIfErrorS: number
  /**
   * The origin explicitly allowed shared caching (`public`, `s-maxage`, or a
   * `CDN-Cache-Control` aimed at this cache): only such an entry is stored from, or
   * served to, a request that carries credentials.
   */
  shared: boolean
  /** Header fields named by qualified `private="..."` / `no-cache="..."`: never sent from storage. */
  dropFields: string[]
}

export type StoreDecision = ({ storable: true } & Freshness) | { storable: false; reason: string }

export interface RequestFacts {
  method: string
  /** The request carried `Authorization`. */
  authorization: boolean
  /** The request carried `Cookie`. */
  cookie: boolean
  /** The request said `Cache-Control: no-store`. */
  noStore: boolean
}

/** Heuristic lifetimes are capped at a day, as most caches do. */
export const HEURISTIC_MAX_S = 86_400
/** RFC 9111 §4.2.2 suggests 10% of the time since Last-Modified. */
const HEURISTIC_FRACTION = 0.1
/** RFC 9111 §1.2.2: delta-seconds beyond 2^31 are sent as 2^31. */
const MAX_DELTA_S = 2 ** 31

/** RFC 9110 §15.1: statuses cacheable by default ("heuristically cacheable"). */
export const HEURISTICALLY_CACHEABLE = new Set([200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501])
/** Statuses whose meaning this cache understands well enough to store at all (§3). */
const UNDERSTOOD = new Set([
  200, 203, 204, 300, 301, 302, 303, 307, 308, 404, 405, 410, 414, 451, 500, 501, 502, 503, 504
])

export function header(headers: HeaderBag, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/**
 * Directive names lowercased; quoted values unquoted. A directive repeated with a
 * different value becomes `''`, i.e. invalid, so its delta-seconds reads as stale (§4.2.1).
 */
export function parseCacheControl(value: string | undefined): Directives {
  const out: Directives = new Map()
  if (value === undefined) return out
  for (const part of value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const eq = part.indexOf('=')
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (name === '') continue
    let v: string | true = true
    if (eq !== -1) {
      const raw = part.slice(eq + 1).trim()
      v = raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw
    }
    const prior = out.get(name)
    out.set(name, prior === undefined || prior === v ? v : '')
  }
  return out
}

/**
 * A delta-seconds value. Absent gives undefined; anything malformed gives 0, so the
 * response counts as stale (§4.2.1: "caches are encouraged to consider the response stale").
 */
export function deltaSeconds(value: string | true | undefined): number | undefined {
  if (value === undefined) return undefined
  if (value === true || !/^\d+$/.test(value)) return 0
  return Math.min(Number(value), MAX_DELTA_S)
}

/** An HTTP-date header value in epoch ms; absent or invalid (RFC 9110 §5.6.7) gives undefined. */
export function httpDate(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseHttpDate(value)
}

/**
 * The directives this cache obeys: a valid `CDN-Cache-Control` (RFC 9213 §2.1), else
 * `Cache-Control`. An invalid targeted field counts as absent, so `targeted` is false and
 * `Expires` applies again.
 */
export function responseDirectives(headers: HeaderBag): { directives: Directives; targeted: boolean } {
  const cdn = header(headers, 'cdn-cache-control')
  const targeted = cdn === undefined ? undefined : parseCdnCacheControl(cdn)
  if (targeted !== undefined) return { directives: targeted, targeted: true }
  return { directives: parseCacheControl(header(headers, 'cache-control')), targeted: false }
}

/** Decide whether a shared cache may store this response (RFC 9111 §3), and how to use it later. */
export function decideStorable(req: RequestFacts, status: number, headers: HeaderBag): StoreDecision {
  if (req.method !== 'GET') return { storable: false, reason: `method ${req.method}` }
  if (!UNDERSTOOD.has(status)) return { storable: false, reason: `status ${status}` }
  if (req.noStore) return { storable: false, reason: 'request no-store' }
  const { directives, targeted } = responseDirectives(headers)
  const cc = targeted ? parseCacheControl(header(headers, 'cache-control')) : directives
  if (directives.has('no-store')) return { storable: false, reason: 'no-store' }
  // §5.2.2.7: unqualified `private` forbids shared caches; `private="field"` only drops that field.
  const priv = directives.get('private')
  if (priv === true) return { storable: false, reason: 'private' }
  if (varyNames(headers).includes('*')) return { storable: false, reason: 'vary: *' }
  const shared = targeted || cc.has('public') || cc.has('s-maxage')
  // §3.5: a response to an authenticated request only with one of these directives.
  if (req.authorization && !(shared || cc.has('must-revalidate'))) return { storable: false, reason: 'authorization' }
  // Stricter than RFC 9111, as Varnish and the large CDNs are: a response to a request
  // with cookies, or one that sets them, is probably one visitor's (session takeover,
  // web cache deception) unless the origin said it is for everyone.
  if (req.cookie && !shared) return { storable: false, reason: 'cookie' }
  if (headers['set-cookie'] !== undefined && !shared) return { storable: false, reason: 'set-cookie' }

  const explicit = explicitLifetimeS(directives, headers, targeted)
  // `public` makes any status storable (§5.2.2.9), but an error stored by heuristic would
  // let one bad request take a page down for everyone (CPDoS): errors need a lifetime.
  const heuristicAllowed = HEURISTICALLY_CACHEABLE.has(status) || (directives.has('public') && status < 400)
  if (explicit === undefined && !heuristicAllowed)
    return { storable: false, reason: `status ${status} without explicit freshness` }
  const noCacheValue = directives.get('no-cache')
  const freshness: Freshness = {
    lifetimeS: explicit ?? heuristicLifetimeS(headers),
    heuristic: explicit === undefined,
    noCache: noCacheValue === true,
    mustRevalidate:
      directives.has('must-revalidate') || directives.has('proxy-revalidate') || directives.has('s-maxage'),
    staleWhileRevalidateS: deltaSeconds(directives.get('stale-while-revalidate')) ?? 0,
    staleIfErrorS: deltaSeconds(directives.get('stale-if-error')) ?? 0,
    shared,
    dropFields: [...fieldList(priv), ...fieldList(noCacheValue)]
  }
  // A response that is stale at once and has no validator could never be used again.
  const validator = header(headers, 'etag') !== undefined || header(headers, 'last-modified') !== undefined
  if (
    (freshness.lifetimeS === 0 || freshness.noCache) &&
    !validator &&
    freshness.staleIfErrorS === 0 &&
    freshness.staleWhileRevalidateS === 0
  ) {
    return { storable: false, reason: 'stale on arrival and no validator' }
  }
  return { storable: true, ...freshness }
}

function fieldList(value: string | true | undefined): string[] {
  if (typeof value !== 'string') return []
  return value
    .split(',')
    .map(s => s.trim().toLowerCase())
    .filter(Boolean)
}

/** Field names in `Vary`, lowercased. */
export function varyNames(headers: HeaderBag): string[] {
  const value = header(headers, 'vary')
  if (value === undefined) return []
  return value
    .split(',')
    .map(s => s.trim().toLowerCase())
    .filter(Boolean)
}

function explicitLifetimeS(directives: Directives, headers: HeaderBag, targeted: boolean): number | undefined {
  const sMaxAge = deltaSeconds(directives.get('s-maxage'))
  if (sMaxAge !== undefined) return sMaxAge
  const maxAge = deltaSeconds(directives.get('max-age'))
  if (maxAge !== undefined) return maxAge
  // RFC 9213 §2.1: with CDN-Cache-Control present, Expires is ignored as well.
  if (targeted) return undefined
  const expiresRaw = header(headers, 'expires')
  if (expiresRaw === undefined) return undefined
  // §5.3: several Expires, or an invalid one (e.g. "0"), mean already expired.
  if (Array.isArray(headers.expires) && headers.expires.length > 1) return 0
  const expires = httpDate(expiresRaw)
  if (expires === undefined) return 0
  const date = httpDate(header(headers, 'date')) ?? Date.now()
  return Math.max(0, Math.floor((expires - date) / 1000))
}

/**
 * Only `Last-Modified` gives a heuristic lifetime (§4.2.2); a response without it (most
 * error pages and dynamic pages) is not fresh at all, so it is stored only when it has a
 * validator, and then revalidated on every use.
 */
export function heuristicLifetimeS(headers: HeaderBag): number {
  const lastModified = httpDate(header(headers, 'last-modified'))
  if (lastModified === undefined) return 0
  const date = httpDate(header(headers, 'date')) ?? Date.now()
  const s = Math.floor(((date - lastModified) / 1000) * HEURISTIC_FRACTION)
  return Math.min(HEURISTIC_MAX_S, Math.max(0, s))
}

/**
 * `Age` as received: §5.1 says use the first member of a list and ignore an invalid
 * value (anything but a non-negative integer).
 */
export function ageHeaderS(headers: HeaderBag): number {
  const first = (header(headers, 'age') ?? '').split(',')[0]?.trim() ?? ''
  return /^\d+$/.test(first) ? Math.min(Number(first), MAX_DELTA_S) : 0
}

/**
 * `corrected_initial_age` of RFC 9111 §4.2.3, in seconds: what the response's age was
 * when it arrived here. Times are epoch milliseconds.
 */
export function initialAgeS(headers: HeaderBag, requestTime: number, responseTime: number): number {
  const date = httpDate(header(headers, 'date'))
  const apparent = date === undefined ? 0 : Math.max(0, (responseTime - date) / 1000)
  const corrected = ageHeaderS(headers) + Math.max(0, (responseTime - requestTime) / 1000)
  return Math.max(apparent, corrected)
}

export interface Aging {
  /** Epoch ms when the response (or its latest 304) arrived. */
  responseTime: number
  initialAgeS: number
  lifetimeS: number
}

/** `current_age` of RFC 9111 §4.2.3, in seconds. */
export function currentAgeS(entry: Aging, now: number): number {
  return entry.initialAgeS + Math.max(0, (now - entry.responseTime) / 1000)
}

export function isFresh(entry: Aging & { noCache: boolean }, now: number): boolean {
  return !entry.noCache && entry.lifetimeS > currentAgeS(entry, now)
}

/** How long past its lifetime a stale entry may still be used, for one of the RFC 5861 extensions. */
export function withinStaleWindow(entry: Aging & Freshness, now: number, windowS: number): boolean {
  if (entry.mustRevalidate || entry.noCache || windowS <= 0) return false
  return currentAgeS(entry, now) < entry.lifetimeS + windowS
}

/** Headers of a 304 replace the stored ones (RFC 9111 §3.2, §4.3.4), except the framing ones. */
export function mergeNotModified(
  stored: Record<string, string | string[]>,
  fresh: Record<string, string | string[]>
): Record<string, string | string[]> {
  const out = { ...stored }
  for (const [name, value] of Object.entries(fresh)) {
    if (
      name === 'content-length' ||
      name === 'content-range' ||
      name === 'content-encoding' ||
      name === 'transfer-encoding'
    )
      continue
    out[name] = value
  }
  return out
}
