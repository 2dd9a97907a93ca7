/**
 * Which of a page's requests the service worker hands to the SDK. Only what the SDK can
 * serve exactly as the network would: same-site GETs of public, cacheable bytes. Never a
 * navigation, a script or style (a page must get those even when every peer lies), nor
 * anything carrying credentials the SDK would not send.
 */

/** Set by the SDK on its own requests to the site, which the worker must pass through (they would loop). */
export const BYPASS_HEADER = 'X-P2PCDN-Worker'

/**
 * The operator's rules, set in the site's worker file before it imports ours:
 * `self.P2PCDN_RULES = { exclude: ['/account/'], include: ['/downloads/'] }`.
 * Each entry is a path prefix (`/media/`) or a file extension (`.mp4`); `exclude` wins.
 */
export interface WorkerRules {
  include: readonly string[]
  exclude: readonly string[]
}

/** What the worker sees of a request (a `Request` has all of it). */
export interface RequestFacts {
  method: string
  url: string
  mode: string
  destination: string
  credentials: string
  cache: string
  headers: { has(name: string): boolean }
}

const DESTINATIONS: ReadonlySet<string> = new Set(['image', 'video', 'audio', 'font', 'track'])

/** Media, images, fonts and large static files. */
export const DEFAULT_EXTENSIONS: ReadonlySet<string> = new Set(
  (
    'mp4 m4v m4a m4s webm mkv mov mp3 aac ogg oga ogv opus flac wav ts ' +
    'png jpg jpeg gif webp avif svg ico bmp woff woff2 ttf otf ' +
    'zip gz tgz bz2 xz 7z tar pdf wasm bin iso dmg apk exe'
  )
    .split(' ')
    .map(ext => `.${ext}`)
)

const MAX_RULES = 100
const MAX_RULE_LENGTH = 200

/** The operator's rules, checked: anything else than arrays of short path prefixes or extensions is refused by name. */
export function parseRules(raw: unknown): WorkerRules {
  if (raw === undefined) return { include: [], exclude: [] }
  if (typeof raw !== 'object' || raw === null) throw new TypeError('P2PCDN_RULES: expected an object')
  const rules: Record<string, unknown> = { ...raw }
  for (const key of Object.keys(rules))
    if (key !== 'include' && key !== 'exclude') throw new TypeError(`P2PCDN_RULES: unknown key "${key}"`)
  const list = (key: 'include' | 'exclude'): string[] => {
    const value = rules[key] ?? []
    if (!Array.isArray(value) || value.length > MAX_RULES)
      throw new TypeError(`P2PCDN_RULES.${key}: expected an array of at most ${MAX_RULES} strings`)
    for (const entry of value as unknown[])
      if (typeof entry !== 'string' || entry.length > MAX_RULE_LENGTH || !/^[/.]/.test(entry))
        throw new TypeError(
          `P2PCDN_RULES.${key}: ${JSON.stringify(entry)} is neither a path prefix (/...) nor an extension (.ext)`
        )
    return value as string[]
  }
  return { include: list('include'), exclude: list('exclude') }
}

function matches(pathname: string, entries: readonly string[]): boolean {
  const lower = pathname.toLowerCase()
  return entries.some(e => (e.startsWith('/') ? pathname.startsWith(e) : lower.endsWith(e.toLowerCase())))
}

function extensionOf(pathname: string): string {
  const dot = pathname.lastIndexOf('.')
  return dot > pathname.lastIndexOf('/') ? pathname.slice(dot).toLowerCase() : ''
}

/**
 * Whether the SDK serves this request. `origin` is the site's (the worker's own): another
 * site's requests always go to the network.
 */
export function intercepts(req: RequestFacts, origin: string, rules: WorkerRules): boolean {
  if (req.method !== 'GET' || req.mode === 'navigate') return false
  // Requests that must reach the server as the page sent them.
  if (req.headers.has('Authorization') || req.headers.has(BYPASS_HEADER)) return false
  if (req.credentials === 'include' && req.mode === 'cors') return false
  if (req.cache === 'no-store' || req.cache === 'reload' || req.cache === 'no-cache') return false
  let url: URL
  try {
    url = new URL(req.url)
  } catch {
    return false
  }
  if (url.origin !== origin) return false
  if (matches(url.pathname, rules.exclude)) return false
  if (matches(url.pathname, rules.include)) return true
  return DESTINATIONS.has(req.destination) || DEFAULT_EXTENSIONS.has(extensionOf(url.pathname))
}
