/**
 * One text frame from a socket: parse, dispatch, and turn any error into a failure reply.
 * Bad input from a remote is a warning for the tracker, never a crash, and the socket
 * stays open (bittorrent-tracker: "even though it's an error for the client, it's just a
 * warning for the server").
 */
import { parseClientMessage } from '../../../protocol/src/index.js'
import type { ClientMessage, RefusalReason } from '../../../protocol/src/index.js'
import { OFFER_TIMEOUT_MS, hasRoom, refill } from '../budget.js'
import type { Connection } from '../connection.js'
import { Refusal } from '../refusal.js'
import { handleAnnounce } from './announce.js'
import type { TrackerContext } from './context.js'
import { handleEdgeLoad, handleEdgeRegister, handleEdgesRequest } from './edges.js'
import { failureReply, replyFailure } from './failure.js'
import type { FailureContext } from './failure.js'
import { handleScrape } from './scrape.js'
import { handleStats } from './stats.js'
import { handleAnswer } from './signal.js'

/**
 * Handle one frame (UTF-8 JSON, text or binary, as bittorrent-tracker reads both); never
 * throws. A frame over budget is dropped before it is even decoded to a string.
 */
export function handleMessage(ctx: TrackerContext, conn: Connection, frame: Buffer): void {
  const now = ctx.now()
  let msg: ClientMessage | undefined
  let invalid: unknown
  // An answer to an offer this tracker forwarded to the socket is free, so that a seeder
  // answering a flash crowd is never throttled. What looks like one is parsed before the
  // budget is asked, and that parse costs a credit whatever it turns out to be: so the
  // parses a socket gets ahead of its budget are bounded by the offers it was sent.
  if (conn.answerCredits.any && frame.includes(ANSWER_KEY) && conn.answerCredits.take(now, OFFER_TIMEOUT_MS)) {
    try {
      msg = parseClientMessage(frame.toString('utf8'))
    } catch (err) {
      invalid = err
    }
    if (msg !== undefined && 'answer' in msg) {
      run(ctx, conn, msg, undefined)
      return
    }
  }
  const verdict = takeBudget(ctx, conn, now)
  if (verdict.kind === 'refuse') {
    refuse(ctx, conn, verdict.reason, msg, frame)
    return
  }
  const raw = frame.toString('utf8')
  if (invalid !== undefined) {
    replyFailure(ctx, conn, invalid, guessContext(raw))
    return
  }
  try {
    msg ??= parseClientMessage(raw)
  } catch (err) {
    replyFailure(ctx, conn, err, guessContext(raw))
    return
  }
  run(ctx, conn, msg, verdict.kind === 'warn' ? verdict.warning : undefined)
}

/** The key every answer has; the test is on bytes, before any decoding. */
const ANSWER_KEY = Buffer.from('"answer"')

function run(ctx: TrackerContext, conn: Connection, msg: ClientMessage, warning: string | undefined): void {
  try {
    dispatch(ctx, conn, msg, warning)
  } catch (err) {
    replyFailure(ctx, conn, err, msg)
  }
}

function dispatch(ctx: TrackerContext, conn: Connection, msg: ClientMessage, warning: string | undefined): void {
  switch (msg.action) {
    case 'announce':
      if ('answer' in msg) handleAnswer(ctx, conn, msg)
      else handleAnnounce(ctx, conn, msg, warning)
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
      return
    case 'p2pcdn:stats':
      handleStats(ctx, conn, msg)
  }
}

type BudgetVerdict = { kind: 'ok' } | { kind: 'warn'; warning: string } | { kind: 'refuse'; reason: RefusalReason }

const OK: BudgetVerdict = { kind: 'ok' }

/**
 * Two token buckets, the socket's and its address's; a message takes one token from
 * each. Either in debt: served with a warning; either at the end of its debt: refused.
 */
function takeBudget(ctx: TrackerContext, conn: Connection, now: number): BudgetVerdict {
  const { messagesPerSecond, messageBurst, messagesPerSecondPerIp, messageBurstPerIp } = ctx.config
  const own = conn.bucket
  const shared = conn.address.bucket
  refill(own, now, messagesPerSecond, messageBurst)
  refill(shared, now, messagesPerSecondPerIp, messageBurstPerIp)
  if (!hasRoom(own, messageBurst)) return { kind: 'refuse', reason: 'rate-limited' }
  // A registered edge proved the edge token: anonymous sockets of its address must not
  // starve its heartbeats, so past the shared budget it answers to its own only.
  const shares = hasRoom(shared, messageBurstPerIp)
  if (!shares && ctx.edges.get(conn) === undefined) return { kind: 'refuse', reason: 'rate-limited-ip' }
  own.level--
  if (shares) shared.level--
  conn.throttled = false
  if (own.level < 0)
    return { kind: 'warn', warning: `slow down: over ${messagesPerSecond} messages per second on this connection` }
  if (shares && shared.level < 0)
    return { kind: 'warn', warning: `slow down: over ${messagesPerSecondPerIp} messages per second from this address` }
  return OK
}

/**
 * Over a limit the message is dropped, and the socket hears about it once per episode,
 * so a flood is not answered by a flood. The one reply carries the request's action and
 * info_hash, so a bittorrent-tracker client takes it as a warning for that torrent.
 */
function refuse(
  ctx: TrackerContext,
  conn: Connection,
  reason: RefusalReason,
  msg: ClientMessage | undefined,
  frame: Buffer
): void {
  ctx.metrics.reject(reason)
  if (conn.throttled) return
  conn.throttled = true
  const { messagesPerSecond, messagesPerSecondPerIp } = ctx.config
  const text =
    reason === 'rate-limited'
      ? `too many messages: at most ${messagesPerSecond} per second on one connection`
      : `too many messages: at most ${messagesPerSecondPerIp} per second from one address`
  // Decoded and parsed only for this one reply: a dropped frame costs neither.
  conn.send(failureReply(new Refusal(reason, text), msg ?? guessContext(frame.toString('utf8'))))
  ctx.log.server.info('rate-limited', { conn: conn.id, ip: conn.ip, reason })
}

/** Best effort for a message that did not parse: its action and info_hash, if readable. */
function guessContext(raw: string): FailureContext {
  try {
    const value: unknown = JSON.parse(raw)
    if (typeof value === 'object' && value !== null) return value
  } catch {}
  return {}
}
