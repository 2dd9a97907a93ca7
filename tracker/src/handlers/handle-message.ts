/**
 * One text frame from a socket: parse, dispatch, and turn any error into a failure reply.
 * Bad input from a remote is a warning for the tracker, never a crash, and the socket
 * stays open (bittorrent-tracker: "even though it's an error for the client, it's just a
 * warning for the server").
 */
import { parseClientMessage } from '../../../protocol/src/index.js'
import type { ClientMessage } from '../../../protocol/src/index.js'
import type { Connection } from '../connection.js'
import { handleAnnounce } from './announce.js'
import type { TrackerContext } from './context.js'
import { handleEdgeLoad, handleEdgeRegister, handleEdgesRequest } from './edges.js'
import { replyFailure } from './failure.js'
import type { FailureContext } from './failure.js'
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

/** Best effort for a message that did not parse: its action and info_hash, if readable. */
function guessContext (raw: string): FailureContext {
  try {
    const value: unknown = JSON.parse(raw)
    if (typeof value === 'object' && value !== null) return value as FailureContext
  } catch {}
  return {}
}
