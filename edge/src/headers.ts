/** Header sets the edge adds or strips. */
import type { IncomingHttpHeaders } from 'node:http'

export type Headers = Record<string, string | string[]>

/** RFC 9110 §7.6.1: connection-specific fields a proxy must not forward. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'
])

/** Copy without hop-by-hop fields, including any the `Connection` header names. */
export function stripHopByHop (headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Headers {
  const named = new Set(String(headers.connection ?? '').split(',').map(s => s.trim().toLowerCase()).filter(Boolean))
  const out: Headers = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue
    out[name] = value
  }
  return out
}

export function omit (headers: Headers, names: readonly string[]): Headers {
  const out = { ...headers }
  for (const name of names) delete out[name]
  return out
}

/** Sent on every response so pages on other origins can read content, ranges and cache status. */
export const CORS_HEADERS: Headers = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Content-Length, Content-Range, Content-Type, ETag, Age, X-Cache, X-P2PCDN-Region'
}

export const PREFLIGHT_HEADERS: Headers = {
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'Range, If-Range, If-None-Match, Content-Type',
  'access-control-max-age': '86400'
}

/** Headers a fill must never store: framing, and values the edge computes itself. */
export const NOT_STORED = ['content-length', 'content-range', 'age', 'x-cache', 'x-p2pcdn-region', 'access-control-allow-origin', 'access-control-expose-headers'] as const
