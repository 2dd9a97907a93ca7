import { CdnError, EDGE_PATHS, parseManifest, type Manifest } from '../../protocol/src/index.js'

export interface RankedEdge {
  url: string
  region: string
  /** Round-trip time of the ping, in milliseconds. */
  rttMs: number
}

const PING_TIMEOUT_MS = 2000

async function timed<T> (timeoutMs: number, signal: AbortSignal | undefined, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const signals = [AbortSignal.timeout(timeoutMs), ...(signal === undefined ? [] : [signal])]
  return await run(AbortSignal.any(signals))
}

/**
 * Time one tiny request to each edge and order them fastest first: "nearest" means
 * measured nearest, no geo-IP database needed. Unreachable edges are left out.
 */
export async function rankEdges (edges: Array<{ url: string, region?: string }>): Promise<RankedEdge[]> {
  const ranked = await Promise.all(edges.map(async ({ url, region }) => {
    const started = performance.now()
    try {
      const res = await timed(PING_TIMEOUT_MS, undefined, async s => await fetch(url + EDGE_PATHS.ping, { cache: 'no-store', signal: s }))
      if (!res.ok) return undefined
      return { url, region: region ?? res.headers.get('X-P2PCDN-Region') ?? 'default', rttMs: performance.now() - started }
    } catch {
      return undefined
    }
  }))
  return ranked.filter(e => e !== undefined).sort((a, b) => a.rttMs - b.rttMs)
}

/** The manifest of `resourceUrl` as the edge built it. */
export async function fetchManifest (edgeUrl: string, resourceUrl: string, timeoutMs: number, signal?: AbortSignal): Promise<Manifest> {
  const url = `${edgeUrl}${EDGE_PATHS.manifest}?url=${encodeURIComponent(resourceUrl)}`
  return await timed(timeoutMs, signal, async s => {
    const res = await fetch(url, { signal: s })
    if (!res.ok) throw new CdnError('ERR_HTTP', `edge ${edgeUrl} answered ${res.status} for the manifest of ${resourceUrl}`)
    return parseManifest(await res.text())
  })
}

/** Bytes `[start, end)` of `url`; an origin that ignores Range is cut to size. */
export async function fetchRange (url: string, start: number, end: number, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  return await timed(timeoutMs, signal, async s => {
    const res = await fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` }, signal: s })
    if (res.status === 206) return new Uint8Array(await res.arrayBuffer())
    if (res.status === 200) return new Uint8Array(await res.arrayBuffer()).slice(start, end)
    throw new CdnError('ERR_HTTP', `${url} answered ${res.status} for bytes ${start}-${end - 1}`)
  })
}

/** Where a resource's bytes are on an edge: the edge proxies the origin path for path. */
export function edgeUrlFor (edgeUrl: string, resourceUrl: string): string {
  const u = new URL(resourceUrl)
  return edgeUrl + u.pathname + u.search
}
