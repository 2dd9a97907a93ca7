/**
 * The operator's list of edges (`--edges-file`): each edge's id, the public URLs it may
 * claim, and the SHA-256 of its own secret. Parsed strictly: any mistake is a TypeError
 * that names the entry and the field, so a typo never silently lets an edge in (or out).
 */
import { OptionError } from '../../service/src/options.js'
import { constantTimeEqual, sha256 } from '../../service/src/secret.js'
import { EDGE_ID_RULE, isEdgeId } from '../../protocol/src/index.js'

/** One edge as written in the edges file (or passed as `TrackerInit.edges`). */
export interface EdgeIdentityInit {
  /** The edge's id, sent in `p2pcdn:edge-register` (`edge --edge-id`). */
  id: string
  /**
   * Public URLs this edge may register, each an exact origin (`https://eu1.cdn.example`,
   * `http://127.0.0.1:8081`): scheme, host and port, no path.
   */
  urls: string[]
  /**
   * Hex SHA-256 of the edge's secret (`printf %s "$SECRET" | sha256sum`), so the file
   * does not hold the secret itself. Exactly one of `secretSha256` and `secret`.
   */
  secretSha256?: string
  /** The edge's secret itself, for tests and throwaway setups; prefer `secretSha256`. */
  secret?: string
}

/** One edge as the tracker keeps it. */
export interface EdgeIdentity {
  readonly id: string
  readonly urls: ReadonlySet<string>
  /** SHA-256 of the secret: compared with the hash of what the edge presents, and the challenge's HMAC key. */
  readonly secretHash: Buffer
}

/** Edges by id. */
export type EdgeIdentities = ReadonlyMap<string, EdgeIdentity>

/** Most edges one file may list, and most URLs one edge may claim. */
export const MAX_EDGES_IN_FILE = 10_000
export const MAX_URLS_PER_EDGE = 16
/** A secret shorter than this is refused: secrets are machine-made (`openssl rand -base64 32`). */
export const MIN_EDGE_SECRET_CHARS = 16

const FIELDS: ReadonlySet<string> = new Set(['id', 'urls', 'secretSha256', 'secret'])

/**
 * Validate the edges list (the `edges` array of the file).
 * @throws TypeError naming the entry and field
 */
export function parseEdgeIdentities(value: unknown): EdgeIdentities {
  const fail = (where: string, problem: string): TypeError => new OptionError(`edges${where}`, problem)
  if (!Array.isArray(value)) throw fail('', 'expected an array of {id, urls, secretSha256}')
  if (value.length > MAX_EDGES_IN_FILE) throw fail('', `more than ${MAX_EDGES_IN_FILE} edges`)
  const byId = new Map<string, EdgeIdentity>()
  const owner = new Map<string, string>()
  value.forEach((entry: unknown, i) => {
    const at = `[${i}]`
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw fail(at, 'expected an object {id, urls, secretSha256}')
    const fields = entry as Record<string, unknown>
    for (const key of Object.keys(fields)) {
      if (!FIELDS.has(key))
        throw fail(at, `unknown field "${key.slice(0, 64)}" (expected id, urls, secretSha256 or secret)`)
    }
    const { id, urls, secretSha256, secret } = fields
    if (!isEdgeId(id)) throw fail(`${at}.id`, `expected ${EDGE_ID_RULE}`)
    if (byId.has(id)) throw fail(`${at}.id`, `"${id}" is listed twice`)
    if (!Array.isArray(urls) || urls.length === 0 || urls.length > MAX_URLS_PER_EDGE) {
      throw fail(`${at}.urls`, `expected an array of 1 to ${MAX_URLS_PER_EDGE} origins`)
    }
    const origins = new Set<string>()
    urls.forEach((url: unknown, j) => {
      const origin = exactOrigin(url)
      if (origin === undefined) {
        throw fail(
          `${at}.urls[${j}]`,
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify(undefined) is undefined
          `expected an http(s) origin like https://eu1.cdn.example (no path, query or credentials), got ${JSON.stringify(url)?.slice(0, 200)}`
        )
      }
      const other = owner.get(origin)
      if (other !== undefined && other !== id)
        throw fail(`${at}.urls[${j}]`, `${origin} is already listed for edge "${other}"`)
      owner.set(origin, id)
      origins.add(origin)
    })
    if ((secretSha256 === undefined) === (secret === undefined))
      throw fail(at, 'expected exactly one of "secretSha256" and "secret"')
    let secretHash: Buffer
    if (secretSha256 !== undefined) {
      if (typeof secretSha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(secretSha256)) {
        throw fail(`${at}.secretSha256`, 'expected 64 hex digits (the SHA-256 of the secret)')
      }
      secretHash = Buffer.from(secretSha256, 'hex')
    } else {
      if (typeof secret !== 'string' || secret.length < MIN_EDGE_SECRET_CHARS) {
        throw fail(`${at}.secret`, `expected a string of at least ${MIN_EDGE_SECRET_CHARS} characters`)
      }
      secretHash = sha256(secret)
    }
    byId.set(id, { id, urls: origins, secretHash })
  })
  return byId
}

/**
 * `url` written as an exact origin, lower-cased the way URL does; undefined when it is
 * not one. Written exactly: `https://a.example/` (a trailing slash) is accepted as the
 * same origin, a path or query is not.
 */
export function exactOrigin(url: unknown): string | undefined {
  if (typeof url !== 'string') return undefined
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return undefined
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined
  if (
    parsed.pathname !== '/' ||
    parsed.search !== '' ||
    parsed.hash !== '' ||
    parsed.username !== '' ||
    parsed.password !== ''
  )
    return undefined
  if (url.replace(/\/+$/, '').includes('?') || url.includes('#')) return undefined
  return parsed.origin
}

/**
 * Constant-time check of a presented secret against a stored hash. Both sides are
 * 32-byte digests, so neither the comparison nor a length mismatch says how much was right.
 */
export function secretMatches(given: string, expectedHash: Buffer): boolean {
  return constantTimeEqual(sha256(given), expectedHash)
}
