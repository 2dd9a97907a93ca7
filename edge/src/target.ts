/**
 * Turns what a client asked for into a cache key (origin path + query), refusing
 * anything that could reach outside the origin's URL space: dot segments (plain or
 * percent-encoded), encoded separators, backslashes (WHATWG URL reads them as `/`),
 * protocol-relative paths and absolute URLs on other hosts.
 */

export type TargetResult = { ok: true; key: string } | { ok: false; status: 400 | 414; reason: string }

/** Longer request targets get a 414; browsers and CDNs cap URLs around 8 KiB too. */
export const MAX_TARGET_CHARS = 8 * 1024

const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i

/**
 * A request target as it came on the request line: origin-form (`/a?b`), or
 * absolute-form (`http://host/a`) naming one of `sameOrigins`.
 */
export function parseRequestTarget(raw: string, sameOrigins: readonly string[]): TargetResult {
  if (raw.length > MAX_TARGET_CHARS) return { ok: false, status: 414, reason: 'request target too long' }
  if (raw.startsWith('/')) return keyFromPath(raw)
  const authority = ABSOLUTE_URL.exec(raw)
  if (authority === null) return { ok: false, status: 400, reason: 'request target must be a path' }
  let origin: string
  try {
    origin = new URL(raw).origin
  } catch {
    return { ok: false, status: 400, reason: 'invalid request target' }
  }
  if (!sameOrigins.includes(origin))
    return { ok: false, status: 400, reason: `absolute-form target for another host: ${origin}` }
  return keyFromPath(raw.slice(authority[0].length) || '/')
}

/** The `url` parameter of `/_p2pcdn/manifest`: a path, or an absolute URL on `origin`. */
export function resolveResourceUrl(param: string, origin: URL): TargetResult {
  if (param.length > MAX_TARGET_CHARS) return { ok: false, status: 414, reason: 'url too long' }
  if (param.startsWith('/')) return keyFromPath(param)
  const authority = ABSOLUTE_URL.exec(param)
  let url: URL | undefined
  try {
    url = authority === null ? undefined : new URL(param)
  } catch {}
  if (authority === null || url === undefined)
    return { ok: false, status: 400, reason: 'url must be an absolute URL or a path' }
  if (url.origin !== origin.origin)
    return { ok: false, status: 400, reason: `url is not on this edge's origin (${origin.origin})` }
  return keyFromPath(param.slice(authority[0].length) || '/')
}

function keyFromPath(raw: string): TargetResult {
  const hashAt = raw.indexOf('#')
  const target = hashAt === -1 ? raw : raw.slice(0, hashAt)
  const queryAt = target.indexOf('?')
  const path = queryAt === -1 ? target : target.slice(0, queryAt)
  if (!path.startsWith('/') || path.startsWith('//'))
    return { ok: false, status: 400, reason: 'path must start with a single /' }
  if (path.includes('\\')) return { ok: false, status: 400, reason: 'backslash in path' }
  for (const segment of path.split('/')) {
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      return { ok: false, status: 400, reason: 'malformed percent-encoding in path' }
    }
    if (decoded === '.' || decoded === '..') return { ok: false, status: 400, reason: 'dot segment in path' }
    if (/[/\\\0]/.test(decoded)) return { ok: false, status: 400, reason: 'encoded separator or NUL in path' }
  }
  // Normalise percent-encoding and characters the same way the URL parser will when
  // the origin URL is built, so one resource has one key.
  const url = new URL(target, 'http://edge.invalid')
  return { ok: true, key: url.pathname + url.search }
}

/** Distinct origin-form targets remembered; the memo is dropped whole when full. */
const MEMO_MAX_ENTRIES = 10_000

/**
 * Parsing a target costs a URL parse and a decode per segment; a busy edge sees the
 * same few thousand targets again and again, so origin-form results are remembered.
 */
export function createTargetMemo(): { parse: (raw: string, sameOrigins: readonly string[]) => TargetResult } {
  const memo = new Map<string, TargetResult>()
  return {
    parse(raw, sameOrigins) {
      const known = memo.get(raw)
      if (known !== undefined) return known
      const result = parseRequestTarget(raw, sameOrigins)
      if (raw.startsWith('/')) {
        if (memo.size >= MEMO_MAX_ENTRIES) memo.clear()
        memo.set(raw, result)
      }
      return result
    }
  }
}
