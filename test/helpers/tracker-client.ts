/**
 * A raw WebSocket client for tracker tests: sends JSON, queues every reply, and lets a
 * test wait for the next message matching a predicate. To show that something did not
 * arrive, use `barrier`/`expectNothing` (./barrier.ts): a round trip, not a wait.
 */
import { randomBytes } from 'node:crypto'
import { WebSocket } from 'ws'
import type { ClientOptions } from 'ws'

export type Json = Record<string, unknown>

export interface RawTrackerClient {
  readonly ws: WebSocket
  /** Everything received and not yet taken by `next`. */
  readonly inbox: Json[]
  send: (message: Json | string) => void
  /** The first queued (or future) message matching `match`; rejects after `timeoutMs`. */
  next: (match?: (msg: Json) => boolean, timeoutMs?: number) => Promise<Json>
  /** Close and wait for the close event. */
  close: () => Promise<void>
  /** Resolves with the close code once the socket closes. */
  closed: Promise<number>
}

export async function connectRaw(url: string, options: ClientOptions = {}): Promise<RawTrackerClient> {
  const ws = new WebSocket(url, options)
  const inbox: Json[] = []
  const waiters = new Set<{ match: (msg: Json) => boolean; resolve: (msg: Json) => void }>()
  const closed = new Promise<number>(resolve => ws.once('close', code => resolve(code)))

  ws.on('message', (data: Buffer) => {
    const msg = JSON.parse(data.toString('utf8')) as Json
    for (const waiter of waiters) {
      if (waiter.match(msg)) {
        waiters.delete(waiter)
        waiter.resolve(msg)
        return
      }
    }
    inbox.push(msg)
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })

  const take = (match: (msg: Json) => boolean): Json | undefined => {
    const i = inbox.findIndex(match)
    return i === -1 ? undefined : inbox.splice(i, 1)[0]
  }

  return {
    ws,
    inbox,
    closed,
    send(message) {
      ws.send(typeof message === 'string' ? message : JSON.stringify(message))
    },
    next(match = () => true, timeoutMs = 2000) {
      const queued = take(match)
      if (queued !== undefined) return Promise.resolve(queued)
      return new Promise((resolve, reject) => {
        const waiter = {
          match,
          resolve: (msg: Json) => {
            clearTimeout(timer)
            resolve(msg)
          }
        }
        const timer = setTimeout(() => {
          waiters.delete(waiter)
          reject(new Error(`no matching message within ${timeoutMs} ms; inbox: ${JSON.stringify(inbox).slice(0, 500)}`))
        }, timeoutMs)
        waiters.add(waiter)
      })
    },
    async close() {
      if (ws.readyState !== WebSocket.CLOSED) ws.close()
      await closed
    }
  }
}

/**
 * A fresh random 20-character WebTorrent id (info_hash, peer_id, offer_id). The first char
 * is always above 0x7f on purpose: such chars travel as two UTF-8 bytes and must come back
 * as the same one char.
 */
export function binaryId(): string {
  const bytes = randomBytes(20)
  bytes[0] = bytes[0]! | 0x80
  return String.fromCharCode(...bytes)
}

export const isAnnounceReply = (msg: Json): boolean => msg.action === 'announce' && 'interval' in msg
export const isOffer = (msg: Json): boolean => msg.action === 'announce' && 'offer' in msg
export const isAnswer = (msg: Json): boolean => msg.action === 'announce' && 'answer' in msg
export const isFailure = (msg: Json): boolean => 'failure reason' in msg

/** An SDP-shaped stand-in; the tracker relays it without reading it. */
export function fakeSdp(type: 'offer' | 'answer', tag: string): { type: 'offer' | 'answer'; sdp: string } {
  return { type, sdp: `v=0\r\no=- ${tag} 2 IN IP4 127.0.0.1\r\ns=-\r\n` }
}

export async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url)
  const text = await res.text()
  let body: unknown = text
  try {
    body = JSON.parse(text)
  } catch {
    // Not JSON: the text itself is the body.
  }
  return { status: res.status, body }
}
