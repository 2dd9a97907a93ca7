/**
 * One text frame from a socket: parse, dispatch, and turn any error into a failure reply.
 * Bad input from a remote is a warning for the tracker, never a crash, and the socket
 * stays open (bittorrent-tracker: "even though it's an error for the client, it's just a
 * warning for the server").
 */
import { isBinaryId, parseClientMessage } from '../../../protocol/src/index.js'
import type { ClientMessage, ErrorCode, FailureResponse } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import { handleAnnounce } from './announce.js'
import type { TrackerContext } from './context.js'
import { handleEdgeLoad, handleEdgeRegister, handleEdgesRequest } from './edges.js'
import { handleScrape } from './scrape.js'
import { handleAnswer } from './signal.js'

/** Handle one frame; never throws. */
export function handleMessage (ctx: TrackerContext, conn: Connection, raw: string): void {
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
  } else {
    ctx.log.server.warn('request-refused', { conn: conn.id, action: reply.action, code, reason: reply['failure reason'] })
  }
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
