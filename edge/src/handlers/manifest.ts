/** `GET /_p2pcdn/manifest?url=...`: the chunk manifest of one origin resource, filling the cache if needed. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { manifestLimitProblem, serializeManifest, serializeSignedManifest } from '../../../protocol/src/index.js'
import type { Manifest } from '../../../protocol/src/index.js'
import { currentAgeS, header } from '../cache/policy.js'
import type { ManifestSigner } from '../manifest-signer.js'
import type { CacheEntry } from '../cache/store.js'
import { discard, isTimeout } from '../origin.js'
import { remoteOf } from '../origin-request.js'
import { resolveResourceUrl } from '../target.js'
import { lookup } from './cached.js'
import type { Lookup } from './cached.js'
import type { HandlerContext } from './context.js'
import { errorText, upstreamName } from './proxy.js'
import { send, sendError } from './reply.js'

export async function serveManifest(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  query: URLSearchParams
): Promise<void> {
  // Read now: the socket may be detached by the time the fill is done.
  const remote = remoteOf(req) ?? ''
  const param = query.get('url')
  if (param === null || param === '') {
    sendError(ctx, res, 400, 'ERR_PROTOCOL', 'missing url parameter')
    return
  }
  const target = resolveResourceUrl(param, ctx.config.origin)
  if (!target.ok) {
    sendError(ctx, res, target.status, 'ERR_PROTOCOL', target.reason)
    return
  }
  let found: Lookup
  let entry: CacheEntry
  try {
    found = await lookup(ctx, req, target.key)
    if (found.kind === 'pass') {
      if (found.response !== undefined) discard(found.response.body)
      if (found.status === 200) sendError(ctx, res, 409, 'ERR_HTTP', `not cacheable: ${found.reason}`)
      else sendError(ctx, res, found.status === 404 ? 404 : 502, 'ERR_HTTP', `origin answered ${found.status}`)
      return
    }
    // The manifest is complete only once the whole body has arrived and been stored.
    entry = found.kind === 'streaming' ? await found.fill.stored : found.entry
  } catch (err) {
    ctx.log.warn('fill-failed', { key: target.key, error: String(err) })
    if (isTimeout(err)) sendError(ctx, res, 504, 'ERR_TIMEOUT', `${upstreamName(ctx)} timed out: ${errorText(err)}`)
    else sendError(ctx, res, 502, 'ERR_HTTP', `${upstreamName(ctx)} failed: ${errorText(err)}`)
    return
  }
  if (entry.manifest === undefined && entry.status === 200) {
    // Beyond the manifest bounds: the resource is served, from here and the origin, but
    // not described; 409 as for one that is not cacheable, so the SDK goes on without one.
    const problem =
      manifestLimitProblem({
        url: entry.url,
        size: entry.body.length,
        type: header(entry.headers, 'content-type'),
        etag: header(entry.headers, 'etag'),
        chunkSize: ctx.config.chunkSize
      }) ?? 'beyond the manifest bounds'
    sendError(ctx, res, 409, 'ERR_HTTP', `no manifest: ${problem}`)
    return
  }
  if (entry.manifest === undefined) {
    sendError(ctx, res, entry.status === 404 ? 404 : 502, 'ERR_HTTP', `origin answered ${entry.status}`)
    return
  }
  // Clients may keep the manifest as long as the object it describes stays fresh here.
  const freshForS = Math.max(0, Math.floor(entry.lifetimeS - currentAgeS(entry, ctx.now())))
  send(
    ctx,
    res,
    200,
    {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': `max-age=${freshForS}`,
      'x-cache': found.kind === 'hit' ? 'HIT' : found.kind === 'stale' ? 'STALE' : 'MISS'
    },
    await manifestBody(ctx, req, remote, target.key, entry.manifest),
    req.method === 'HEAD'
  )
}

/** Signed bodies by signer and stored manifest: one signature per stored version, not per request. */
const signed = new WeakMap<ManifestSigner, WeakMap<Manifest, string>>()

async function manifestBody(
  ctx: HandlerContext,
  req: IncomingMessage,
  remote: string,
  key: string,
  manifest: Manifest
): Promise<string> {
  const signer = ctx.signer
  if (signer === undefined && ctx.parentSignatures !== undefined) {
    const signatures = await ctx.parentSignatures.of({
      key,
      manifest,
      headers: req.headers,
      client: remote
    })
    return serializeSignedManifest(manifest, signatures)
  }
  if (signer === undefined) return serializeManifest(manifest)
  let bodies = signed.get(signer)
  if (bodies === undefined) signed.set(signer, (bodies = new WeakMap()))
  let body = bodies.get(manifest)
  if (body === undefined) bodies.set(manifest, (body = serializeSignedManifest(manifest, [signer.sign(manifest)])))
  return body
}
