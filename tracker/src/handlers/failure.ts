/**
 * A failure reply for a request the tracker will not or cannot serve, counted and logged
 * by reason. Used synchronously by handle-message and, in cluster mode, after an await.
 */
import { isBinaryId } from '../../../protocol/src/index.js'
import type { ErrorCode, FailureResponse } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import type { Refusal } from '../refusal.js'
import type { TrackerContext } from './context.js'

/** What the failed request was about, echoed so that clients can match the reply. */
export interface FailureContext {
  action?: unknown
  info_hash?: unknown
}

export function replyFailure(ctx: TrackerContext, conn: Connection, err: unknown, about: FailureContext): void {
  const code = errorCode(err)
  conn.send(failureReply(err, about))
  const action = typeof about.action === 'string' ? about.action.slice(0, 64) : undefined

  if (code === undefined) {
    ctx.log.server.error('handler-failed', { conn: conn.id, action, error: String(err) })
    return
  }
  // By field, not instanceof, as errors.ts asks; a plain ProtocolError is an edge refusal.
  const reason =
    (err as Partial<Refusal>).reason ?? (code === 'ERR_INVALID_MESSAGE' ? 'invalid-message' : 'edge-refused')
  ctx.metrics.reject(reason)
  // Debug, not warn: a hostile client must not be able to flood the log.
  ctx.log.server.debug('request-refused', { conn: conn.id, action, code, reason })
}

/**
 * The reply itself, in the protocol's shape: bittorrent-tracker clients drop announce
 * replies whose info_hash is not theirs, and treat a reply without a known action as a
 * broken tracker (they close the socket, which every torrent of the page shares, and
 * retry 10 to 310 s later), so both are echoed whenever the request had them.
 */
export function failureReply(err: unknown, about: FailureContext): FailureResponse {
  const code = errorCode(err)
  const reply: FailureResponse = {
    'failure reason': code === undefined ? 'internal tracker error' : (err as Error).message
  }
  if (code !== undefined) reply.code = code
  // A Refusal's reason (by field, as errors.ts asks): what a program branches on.
  const reason = (err as Partial<Refusal>).reason ?? (code === 'ERR_INVALID_MESSAGE' ? 'invalid-message' : undefined)
  if (code !== undefined && typeof reason === 'string') reply.reason = reason
  if (typeof about.action === 'string' && about.action.length <= 64) reply.action = about.action
  if (isBinaryId(about.info_hash)) reply.info_hash = about.info_hash
  return reply
}

/**
 * Errors that blame the remote; their messages are written for it. Anything else is our
 * bug, and its message (maybe a Node internal one) stays in our log.
 */
const REMOTE_ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>(['ERR_INVALID_MESSAGE', 'ERR_PROTOCOL'])

/** Matched by `code`, not `instanceof`, as errors.ts asks. */
function errorCode(err: unknown): ErrorCode | undefined {
  if (!(err instanceof Error)) return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && REMOTE_ERROR_CODES.has(code) ? (code as ErrorCode) : undefined
}
