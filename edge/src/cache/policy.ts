/**
 * RFC 9111 shared-cache rules as pure functions: may a response be stored, for how
 * long is it fresh, how old is it. https://www.rfc-editor.org/rfc/rfc9111
 *
 * First-cut choices (documented in edge/README.md):
 * - stored only with a positive lifetime: `s-maxage` over `max-age` over `Expires`,
 *   or, with none of those, a heuristic lifetime (§4.2.2) of 10% of the time since
 *   `Last-Modified`, clamped to [60 s, 1 day], and 60 s without `Last-Modified`;
 * - `no-cache`, `max-age=0` and past `Expires` are not stored (they would need
 *   validation on every use; storing them is a later step);
 * - `CDN-Cache-Control` (RFC 9213), when present, replaces `Cache-Control` and `Expires`.
 */

/** Lowercase header names, as Node's `IncomingHttpHeaders`. */
export type HeaderBag = Record<string, string | string[] | undefined>

export type Directives = Map<string, string | true>

export type StoreDecision =
  | { storable: true, lifetimeS: number, heuristic: boolean }
  | { storable: false, reason: string }

export const HEURISTIC_DEFAULT_S = 60
export const HEURISTIC_MAX_S = 86_400
/** RFC 9111 §4.2.2 suggests 10% of the time since Last-Modified. */
const HEURISTIC_FRACTION = 0.1

export function header (headers: HeaderBag, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/** Directive names lowercased; quoted values unquoted. The first of a repeated directive wins. */
export function parseCacheControl (value: string | undefined): Directives {
  const out: Directives = new Map()
  if (value === undefined) return out
  for (const part of value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const eq = part.indexOf('=')
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
    if (name === '' || out.has(name)) continue
    if (eq === -1) {
      out.set(name, true)
    } else {
      const raw = part.slice(eq + 1).trim()
      out.set(name, raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2 ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw)
    }
  }
  return out
}

/** A delta-seconds value; anything malformed counts as 0 (RFC 9111 §1.2.2: treat as stale). */
function deltaSeconds (value: string | true | undefined): number | undefined {
  if (value === undefined) return undefined
  if (value === true || !/^\d+$/.test(value)) return 0
  return Math.min(Number(value), 2 ** 31)
}

function httpDate (value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? undefined : ms
}

/** Decide whether a shared cache may store this response (RFC 9111 §3), and its freshness lifetime. */
export function decideStorable (method: string, status: number, headers: HeaderBag): StoreDecision {
  if (method !== 'GET') return { storable: false, reason: `method ${method}` }
  if (status !== 200) return { storable: false, reason: `status ${status}` }
  const cdn = header(headers, 'cdn-cache-control')
  const directives = parseCacheControl(cdn ?? header(headers, 'cache-control'))
  if (directives.has('no-store')) return { storable: false, reason: 'no-store' }
  if (directives.has('private')) return { storable: false, reason: 'private' }
  if (directives.has('no-cache')) return { storable: false, reason: 'no-cache' }
  if ((header(headers, 'vary') ?? '').split(',').some(v => v.trim() === '*')) return { storable: false, reason: 'vary: *' }
  // A shared cache must not hand one client's session cookie to another.
  if (headers['set-cookie'] !== undefined) return { storable: false, reason: 'set-cookie' }

  const explicit = explicitLifetimeS(directives, headers, cdn !== undefined)
  if (explicit !== undefined) {
    return explicit > 0 ? { storable: true, lifetimeS: explicit, heuristic: false } : { storable: false, reason: 'zero freshness lifetime' }
  }
  return { storable: true, lifetimeS: heuristicLifetimeS(headers), heuristic: true }
}

function explicitLifetimeS (directives: Directives, headers: HeaderBag, targeted: boolean): number | undefined {
  const sMaxAge = deltaSeconds(directives.get('s-maxage'))
  if (sMaxAge !== undefined) return sMaxAge
  const maxAge = deltaSeconds(directives.get('max-age'))
  if (maxAge !== undefined) return maxAge
  if (targeted) return undefined
  const expiresRaw = header(headers, 'expires')
  if (expiresRaw === undefined) return undefined
  const expires = httpDate(expiresRaw)
  // An invalid Expires (e.g. "0") means already expired (RFC 9111 §5.3).
  if (expires === undefined) return 0
  const date = httpDate(header(headers, 'date')) ?? Date.now()
  return Math.max(0, Math.floor((expires - date) / 1000))
}

export function heuristicLifetimeS (headers: HeaderBag): number {
  const lastModified = httpDate(header(headers, 'last-modified'))
  if (lastModified === undefined) return HEURISTIC_DEFAULT_S
  const date = httpDate(header(headers, 'date')) ?? Date.now()
  const s = Math.floor(((date - lastModified) / 1000) * HEURISTIC_FRACTION)
  return Math.min(HEURISTIC_MAX_S, Math.max(HEURISTIC_DEFAULT_S, s))
}

/**
 * `corrected_initial_age` of RFC 9111 §4.2.3, in seconds: what the response's age was
 * when it arrived here. Times are epoch milliseconds.
 */
export function initialAgeS (headers: HeaderBag, requestTime: number, responseTime: number): number {
  const date = httpDate(header(headers, 'date'))
  const apparent = date === undefined ? 0 : Math.max(0, (responseTime - date) / 1000)
  const ageValue = deltaSeconds(header(headers, 'age')) ?? 0
  const corrected = ageValue + Math.max(0, (responseTime - requestTime) / 1000)
  return Math.max(apparent, corrected)
}

export interface Aging {
  /** Epoch ms when the response (or its latest 304) arrived. */
  responseTime: number
  initialAgeS: number
  lifetimeS: number
}

/** `current_age` of RFC 9111 §4.2.3, in seconds. */
export function currentAgeS (entry: Aging, now: number): number {
  return entry.initialAgeS + Math.max(0, (now - entry.responseTime) / 1000)
}

export function isFresh (entry: Aging, now: number): boolean {
  return entry.lifetimeS > currentAgeS(entry, now)
}

/** Headers of a 304 replace the stored ones (RFC 9111 §3.2), except the framing ones. */
export function mergeNotModified (stored: Record<string, string | string[]>, fresh: Record<string, string | string[]>): Record<string, string | string[]> {
  const out = { ...stored }
  for (const [name, value] of Object.entries(fresh)) {
    if (name === 'content-length' || name === 'content-range' || name === 'content-encoding') continue
    out[name] = value
  }
  return out
}
