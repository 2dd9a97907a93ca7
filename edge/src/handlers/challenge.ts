/**
 * `GET /_p2pcdn/challenge?nonce=N`: the tracker's reachability check. The answer is
 * `{"v":1,"id":"eu1","mac":"..."}`, the HMAC-SHA256 (base64url) of
 * `EDGE_CHALLENGE_CONTEXT \n id \n nonce` keyed with the SHA-256 of this edge's secret
 * (or of the shared token). Anyone may ask; the MAC proves only that this server holds
 * the key, and the context string keeps it from meaning anything anywhere else.
 */
import type { ServerResponse } from 'node:http'
import { PROTOCOL_VERSION } from '../../../protocol/src/index.js'
import { challengeMac, sha256 } from '../../../service/src/secret.js'
import type { HandlerContext } from './context.js'
import { sendError, sendJson } from './reply.js'

/** The tracker sends 43 characters (32 random bytes); refuse what could not be a nonce. */
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/

export function serveChallenge(ctx: HandlerContext, res: ServerResponse, params: URLSearchParams, head: boolean): void {
  const credential = ctx.config.edgeSecret ?? ctx.config.edgeToken
  if (credential === undefined) {
    sendError(ctx, res, 404, 'ERR_PROTOCOL', 'no challenge key: this edge has no edge secret or token')
    return
  }
  const nonce = params.get('nonce')
  if (nonce === null || !NONCE_PATTERN.test(nonce)) {
    sendError(ctx, res, 400, 'ERR_PROTOCOL', 'nonce: expected 16-128 base64url characters')
    return
  }
  const id = ctx.config.edgeId
  const mac = challengeMac(sha256(credential), id, nonce)
  sendJson(ctx, res, 200, id === undefined ? { v: PROTOCOL_VERSION, mac } : { v: PROTOCOL_VERSION, id, mac }, {}, head)
}
