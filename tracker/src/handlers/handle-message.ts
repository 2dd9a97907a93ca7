/**
 * One text frame from a socket: parse, dispatch, and turn any error into a failure reply.
 * Bad input from a remote is a warning for the tracker, never a crash, and the socket
 * stays open (bittorrent-tracker: "even though it's an error for the client, it's just a
 * warning for the server").
 */
import { isBinaryId, parseClientMessage } from '../../../protocol/src/index.js'
import type { ClientMessage, ErrorCode, FailureResponse } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import type { Refusal } from '../refusal.js'
import { handleAnnounce } from './announce.js'
import type { TrackerContext } from './context.js'
import { handleEdgeLoad, handleEdgeRegister, handleEdgesRequest } from './edges.js'
import { handleScrape } from './scrape.js'
import { handleAnswer } from './signal.js'

/** Handle one frame; never throws. */
export function handleMessage (ctx: TrackerContext, conn: Connection, raw: string): void {
  if (!takeToken(ctx, conn)) return
  let msg: ClientMessage | undefined
  try {
    msg = parseClientMessage(raw)
    dispatch(ctx, conn, msg)
  } catch (err) {
    replyFailure(ctx, conn, err, msg ?? guessContext(raw))
  }
}

function dispatch (ctx: TrackerContext, conn: Connection, msg: ClientMessage): void {
  switch (msg.action) {
    case 'announce':
      if ('answer' in msg) handleAnswer(ctx, conn, msg)
      else handleAnnounce(ctx, conn, msg)
      return
    case 'scrape':
      handleScrape(ctx, conn, msg)
      return
    case 'p2pcdn:edge-register':
      handleEdgeRegister(ctx, conn, msg)
      return
    case 'p2pcdn:edge-load':
      handleEdgeLoad(ctx, conn, msg)
      return
    case 'p2pcdn:edges':
      handleEdgesRequest(ctx, conn, msg)
  }
}

/**
 * Token-bucket rate limit per socket. Over the limit, messages are dropped unread and
 * the socket hears about it once per episode, so a flood is not answered by a flood.
 */
function takeToken (ctx: TrackerContext, conn: Connection): boolean {
  if (conn.tokens >= 1) {
    conn.tokens--
    return true
  }
  const now = ctx.now()
  const { messagesPerSecond, messageBurst } = ctx.config
  conn.tokens = Math.min(messageBurst, conn.tokens + (now - conn.refilledAtMs) * messagesPerSecond / 1000)
  conn.refilledAtMs = now
  if (conn.tokens >= 1) {
    conn.tokens--
    conn.throttled = false
    return true
  }
  ctx.metrics.reject('rate-limited')
  if (!conn.throttled) {
    conn.throttled = true
    conn.send({ 'failure reason': `too many messages: at most ${messagesPerSecond} per second`, code: 'ERR_PROTOCOL' })
    ctx.log.server.info('rate-limited', { conn: conn.id, ip: conn.ip })
  }
  return false
}

interface FailureContext {
  action?: unknown
  info_hash?: unknown
}

function replyFailure (ctx: TrackerContext, conn: Connection, err: unknown, about: FailureContext): void {
  const code = errorCode(err)
  const reply: FailureResponse = {
    'failure reason': code === undefined ? 'internal tracker error' : (err as Error).message
  }
  if (code !== undefined) reply.code = code
  // bittorrent-tracker clients drop announce replies whose info_hash is not theirs and
  // treat a reply without a known action as a broken socket, so echo both when we can.
  if (typeof about.action === 'string' && about.action.length <= 64) reply.action = about.action
  if (isBinaryId(about.info_hash)) reply.info_hash = about.info_hash
  conn.send(reply)

  if (code === undefined) {
    ctx.log.server.error('handler-failed', { conn: conn.id, action: reply.action, error: String(err) })
    return
  }
  // By field, not instanceof, as errors.ts asks; a plain ProtocolError is an edge refusal.
  const reason = (err as Partial<Refusal>).reason ?? (code === 'ERR_INVALID_MESSAGE' ? 'invalid-message' : 'edge-refused')
  ctx.metrics.reject(reason)
  // Debug, not warn: a hostile client must not be able to flood the log.
  ctx.log.server.debug('request-refused', { conn: conn.id, action: reply.action, code, reason })
}

/**
 * Errors that blame the remote; their messages are written for it. Anything else is our
 * bug, and its message (maybe a Node internal one) stays in our log.
 */
const REMOTE_ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>(['ERR_INVALID_MESSAGE', 'ERR_PROTOCOL'])

/** Matched by `code`, not `instanceof`, as errors.ts asks. */
function errorCode (err: unknown): ErrorCode | undefined {
  if (!(err instanceof Error)) return undefined
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && REMOTE_ERROR_CODES.has(code) ? code as ErrorCode : undefined
}

/** Best effort for a message that did not parse: its action and info_hash, if readable. */
function guessContext (raw: string): FailureContext {
  try {
    const value: unknown = JSON.parse(raw)
    if (typeof value === 'object' && value !== null) return value as FailureContext
  } catch {}
  return {}
}
