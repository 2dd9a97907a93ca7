import {
  CdnError,
  EDGE_PATHS,
  errorMessageOf,
  TimeoutError,
  InvalidManifestError,
  MAX_MANIFEST_BYTES,
  parseManifest,
  type Manifest
} from '../../protocol/src/index.js'
import { concatBytes } from './bytes.js'
import type { RankedEdge } from './edge-set.js'
import { BYPASS_HEADER } from './service-worker/rules.js'

const PING_TIMEOUT_MS = 2000

/**
 * An HTTP failure (ERR_HTTP): unreachable, or an unusable status. `serverFault` says
 * whether the server itself is unwell (network, 5xx); a deadline passed is a
 * TimeoutError (ERR_TIMEOUT) instead, and counts as a server fault too.
 */
export class HttpError extends CdnError {
  constructor(
    message: string,
    readonly serverFault: boolean
  ) {
    super('ERR_HTTP', message)
    this.name = 'HttpError'
  }
}

async function timed<T>(
  timeoutMs: number,
  signal: AbortSignal | undefined,
  what: string,
  run: (signal: AbortSignal) => Promise<T>
): Promise<T> {
  const deadline = AbortSignal.timeout(timeoutMs)
  const signals = [deadline, ...(signal === undefined ? [] : [signal])]
  try {
    return await run(AbortSignal.any(signals))
  } catch (err) {
    if (signal?.aborted === true) throw signal.reason
    if (err instanceof CdnError) throw err
    if (deadline.aborted) throw new TimeoutError(`${what}: no complete answer in ${timeoutMs} ms`)
    throw new HttpError(`${what}: ${errorMessageOf(err)}`, true)
  }
}

function check(res: Response, what: string): void {
  if (!res.ok) throw new HttpError(`${what} answered ${res.status}`, res.status >= 500)
}

/**
 * Time one tiny request to each edge and order them fastest first: "nearest" means
 * measured nearest, no geo-IP database needed. Unreachable edges are left out.
 */
export async function rankEdges(edges: Array<{ url: string; region?: string }>): Promise<RankedEdge[]> {
  const ranked = await Promise.all(
    edges.map(async ({ url, region }) => {
      const started = performance.now()
      try {
        const res = await networkFetch(url + EDGE_PATHS.ping, {
          cache: 'no-store',
          signal: AbortSignal.timeout(PING_TIMEOUT_MS)
        })
        if (!res.ok) return undefined
        return {
          url,
          region: region ?? res.headers.get('X-P2PCDN-Region') ?? 'default',
          rttMs: performance.now() - started
        }
      } catch {
        return undefined
      }
    })
  )
  return ranked.filter(e => e !== undefined).sort((a, b) => a.rttMs - b.rttMs)
}

/**
 * A manifest at `url` (an edge's manifest endpoint or the operator's sidecar file). Its
 * body is read up to MAX_MANIFEST_BYTES and no further: an oversized one is refused
 * (ERR_INVALID_MANIFEST) by its Content-Length, or once the read passes the cap, and
 * its body is cancelled, so it never takes more memory than the largest valid manifest.
 */
export async function fetchManifestAt(url: string, timeoutMs: number, signal?: AbortSignal): Promise<Manifest> {
  return await timed(timeoutMs, signal, url, async s => {
    const res = await networkFetch(url, { signal: s })
    check(res, `manifest ${url}`)
    return parseManifest(await readCapped(res, MAX_MANIFEST_BYTES, `manifest ${url}`))
  })
}

/** The body as text, refused past `cap` bytes (the Content-Length first, then what arrives). */
async function readCapped(res: Response, cap: number, what: string): Promise<string> {
  const tooBig = (bytes: string): InvalidManifestError =>
    new InvalidManifestError(`${what}: ${bytes} bytes, over the ${cap} a manifest may have`)
  const declared = res.headers.get('Content-Length')
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > cap) {
    await res.body?.cancel().catch(() => {})
    throw tooBig(declared)
  }
  // One byte more than allowed is enough to know it is too big.
  const bytes = await readSlice(res.body, 0, cap + 1)
  if (bytes.length > cap) throw tooBig(`more than ${cap}`)
  return new TextDecoder().decode(bytes)
}

/**
 * Up to `take` bytes of a body after its first `skip`, read as they arrive; the body is
 * cancelled as soon as they are in. Nothing a server sends beyond what was asked is
 * ever held.
 */
async function readSlice(body: ReadableStream<Uint8Array> | null, skip: number, take: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  let toSkip = skip
  const reader = body?.getReader()
  while (reader !== undefined && length < take) {
    const { done, value } = await reader.read()
    if (done) break
    const skipped = Math.min(toSkip, value.length)
    toSkip -= skipped
    const piece = value.subarray(skipped, skipped + take - length)
    if (piece.length > 0) parts.push(piece)
    length += piece.length
  }
  if (length === take) await reader?.cancel().catch(() => {})
  // A view into a bigger read would keep (and store) all of it.
  if (parts.length === 1 && parts[0]!.byteLength === parts[0]!.buffer.byteLength) return parts[0]!
  return concatBytes(parts)
}

/**
 * Bytes `[start, end)` of `url`. An origin that ignores Range is read only up to `end`,
 * and a server that sends more than asked is cut off: a hostile edge's endless body
 * costs the page nothing beyond the chunk.
 */
export async function fetchRange(
  url: string,
  start: number,
  end: number,
  timeoutMs: number,
  signal?: AbortSignal
): Promise<Uint8Array> {
  return await timed(timeoutMs, signal, url, async s => {
    const res = await networkFetch(url, { headers: { Range: `bytes=${start}-${end - 1}` }, signal: s })
    check(res, `${url} bytes ${start}-${end - 1}`)
    return await readSlice(res.body, res.status === 206 ? 0 : start, end - start)
  })
}

/** Where a resource's bytes are on an edge: the edge proxies the origin path for path. */
export function edgeUrlFor(edgeUrl: string, resourceUrl: string): string {
  const u = new URL(resourceUrl)
  return edgeUrl + u.pathname + u.search
}

/**
 * `fetch` for the SDK's own requests. One to the page's own origin is marked, so the
 * site's service worker lets it through instead of handing it back to the SDK; others
 * are left as they are (a custom header would cost another origin a preflight).
 */
export async function networkFetch(url: string, init: RequestInit = {}): Promise<Response> {
  if (typeof location === 'undefined' || new URL(url, location.href).origin !== location.origin)
    return await fetch(url, init)
  const headers = new Headers(init.headers)
  headers.set(BYPASS_HEADER, 'bypass')
  return await fetch(url, { ...init, headers })
}
