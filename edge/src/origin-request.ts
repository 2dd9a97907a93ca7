/**
 * The request head the edge sends the origin. It is built by the edge, not copied from
 * the client: a field that reaches the origin but is not part of the cache key lets one
 * client shape what every other client gets (cache poisoning), so a fill forwards only
 * the fields of its key, the credentials that keep a response private, and forwarding
 * fields the edge writes itself. The full list is in edge/README.md.
 */
import type { IncomingMessage } from 'node:http'
import type { CdnLoop } from './cdn-loop.js'
import { appendVia, stripHopByHop } from './headers.js'
import type { Headers } from './headers.js'

/** Where clients reach this edge: what `X-Forwarded-Host` / `-Proto` and `Forwarded` say. */
export interface PublicAddress {
  /** `host[:port]`. */
  host: string
  /** `http` or `https`. */
  proto: string
}

/** Sent on fills in place of the client's: origins and their firewalls often refuse requests without one. */
export const EDGE_USER_AGENT = 'p2pcdn-edge'

/**
 * Credentials: forwarded so the origin can answer the client, and the reason such an
 * answer is stored or shared only when the origin marked it public (`cache/policy.ts`).
 */
const CREDENTIALS = ['authorization', 'cookie'] as const

/**
 * Fields some origins and frameworks read to rewrite the URL, the method or the host
 * they think they serve, and that the edge never lets a client set: it writes the
 * forwarding ones itself and drops the rest, on fills and pass-through alike.
 */
export const ROUTING_FIELDS = new Set([
  'x-original-url',
  'x-rewrite-url',
  'x-override-url',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-forwarded-scheme',
  'x-forwarded-server',
  'x-forwarded-prefix',
  'x-forwarded-ssl',
  'x-url-scheme',
  'x-original-host',
  'x-host',
  'x-real-ip',
  'x-client-ip',
  'true-client-ip',
  'forwarded',
  'front-end-https'
])

/** Fields a fill sets itself or never sends: it asks for the whole object, as stored, unconditionally. */
const FILL_OWN = new Set([
  'host',
  'range',
  'if-range',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
  'expect',
  'content-length',
  'transfer-encoding',
  'connection',
  'accept-encoding',
  'via',
  'cdn-loop'
])

/**
 * Whether a request field may be one of the operator's key headers: not one a fill
 * sets itself, not a routing field, not a credential (those are forwarded anyway and
 * keep answers private instead).
 */
export function isKeyField(name: string): boolean {
  return !FILL_OWN.has(name) && !ROUTING_FIELDS.has(name) && !(CREDENTIALS as readonly string[]).includes(name)
}

/** The client's address, read at request start (the socket may be detached once a body is consumed). */
export function remoteOf(req: IncomingMessage): string | undefined {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- typed as always set, but Node detaches it
  return req.socket?.remoteAddress
}

/** `X-Forwarded-For` (client's list + the real address), `X-Forwarded-Host`/`-Proto`, `Forwarded`. */
function forwarding(prior: string | string[] | undefined, remote: string | undefined, pub: PublicAddress): Headers {
  const out: Headers = { 'x-forwarded-host': pub.host, 'x-forwarded-proto': pub.proto }
  const list = prior === undefined ? undefined : Array.isArray(prior) ? prior.join(', ') : prior
  if (remote !== undefined) {
    out['x-forwarded-for'] = list === undefined || list.trim() === '' ? remote : `${list}, ${remote}`
    // RFC 7239 §6: an IPv6 node is a quoted, bracketed string.
    const node = remote.includes(':') ? `"[${remote}]"` : remote
    out.forwarded = `for=${node};host="${pub.host}";proto=${pub.proto}`
  }
  return out
}

/**
 * Headers of a fill: the request fields named by `keyFields` (the operator's key
 * headers and the stored `Vary`), credentials, and the edge's own fields.
 */
export function fillHeaders(
  client: Headers,
  keyFields: readonly string[],
  remote: string | undefined,
  pub: PublicAddress,
  loop: CdnLoop
): Headers {
  const out: Headers = {}
  for (const name of keyFields) {
    const value = client[name]
    if (value !== undefined && isKeyField(name)) out[name] = value
  }
  for (const name of CREDENTIALS) {
    const value = client[name]
    if (value !== undefined) out[name] = value
  }
  // A fill asks for the bytes as stored, so manifests hash what clients will receive.
  out['accept-encoding'] = 'identity'
  // The client's only when it is part of the key.
  out['user-agent'] ??= EDGE_USER_AGENT
  out.via = appendVia(client.via)
  // The received list goes on too, or A -> B -> A would look new to A every time round.
  out['cdn-loop'] = loop.append(client['cdn-loop'])
  return { ...out, ...forwarding(client['x-forwarded-for'], remote, pub) }
}

/**
 * Headers of a pass-through request (methods the cache does not handle): the client's
 * end-to-end fields, as its answer is never stored, minus the routing fields.
 */
export function passHeaders(
  req: IncomingMessage,
  remote: string | undefined,
  pub: PublicAddress,
  loop: CdnLoop
): Headers {
  const out: Headers = {}
  for (const [name, value] of Object.entries(stripHopByHop(req.headers))) {
    // undici frames the body itself and refuses `expect`; `host` becomes the origin's.
    if (name === 'host' || name === 'expect' || ROUTING_FIELDS.has(name)) continue
    out[name] = value
  }
  out.via = appendVia(req.headers.via)
  out['cdn-loop'] = loop.append(req.headers['cdn-loop'])
  return { ...out, ...forwarding(req.headers['x-forwarded-for'], remote, pub) }
}
