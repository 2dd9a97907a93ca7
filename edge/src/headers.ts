/** Header sets the edge adds or strips. */
import type { IncomingHttpHeaders } from 'node:http'

export type Headers = Record<string, string | string[]>

/** RFC 9110 §7.6.1: connection-specific fields a proxy must not forward. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade'
])

/** Copy without hop-by-hop fields, including any the `Connection` header names. */
export function stripHopByHop(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Headers {
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map(s => s.trim().toLowerCase())
      .filter(Boolean)
  )
  const out: Headers = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue
    out[name] = value
  }
  return out
}

/** The named fields that are present; undefined when none is. */
export function pick(headers: Headers, names: readonly string[]): Headers | undefined {
  let out: Headers | undefined
  for (const name of names) {
    const value = headers[name]
    if (value !== undefined) (out ??= {})[name] = value
  }
  return out
}

export function omit(headers: Headers, names: readonly string[]): Headers {
  const out = { ...headers }
  for (const name of names) delete out[name]
  return out
}

/**
 * Sent on every response so pages on other origins can read content, ranges and cache
 * status, and time the edge with Resource Timing (real-user monitoring, as CDNs allow).
 */
export const CORS_HEADERS: Headers = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Content-Length, Content-Range, Content-Type, ETag, Age, X-Cache, X-P2PCDN-Region',
  'timing-allow-origin': '*'
}

export const PREFLIGHT_HEADERS: Headers = {
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'Range, If-Range, If-None-Match, Content-Type',
  'access-control-max-age': '86400'
}

/** Fields of an origin response meant for the requester alone: sent to the fill's leader, never stored or shared. */
export const LEADER_ONLY = ['set-cookie'] as const

/**
 * Headers a fill must never store: framing, values the edge computes itself, and
 * `Set-Cookie`, which belongs to the one client whose request filled the entry.
 */
export const NOT_STORED = [
  'content-length',
  'age',
  'x-cache',
  'x-p2pcdn-region',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'timing-allow-origin',
  ...LEADER_ONLY
] as const

export const VIA = '1.1 p2pcdn-edge'

/** `Via` with this edge added (RFC 9110 §7.6.3), on requests to the origin and on responses. */
export function appendVia(prior: string | string[] | undefined): string {
  if (prior === undefined) return VIA
  return `${Array.isArray(prior) ? prior.join(', ') : prior}, ${VIA}`
}
