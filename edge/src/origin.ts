/**
 * Requests to the one origin, or to the parent edge in front of it (`EdgeInit.parent`),
 * over an undici `Pool` (keep-alive, pipelining off). undici
 * rather than `fetch`: a proxy needs the bytes exactly as sent (no transparent
 * decompression, no redirect following, no forbidden-header rules). Requests take turns
 * by client (`fair-queue.ts`); a slot is held until the response body is done, since
 * that is how long the origin socket is busy.
 */
import { Pool } from 'undici'
import type { Readable } from 'node:stream'
import { createFairQueue } from './fair-queue.js'
import type { Headers } from './headers.js'

export interface OriginRequest {
  method: string
  /** Origin-form target: path and query. */
  path: string
  headers: Headers
  /** Request body to stream to the origin; none when absent. */
  body?: Readable
  /** Whose request this is, for fair turns: the client's address. */
  client: string
  /** Called once the request has its turn and goes to the origin. */
  onTurn?: () => void
  /** 1xx interim responses (RFC 9110 §15.2), for the client that asked. */
  onInfo?: (status: number, headers: Record<string, string | string[]>) => void
}

export interface OriginResponse {
  status: number
  /** Lowercase names, as received (hop-by-hop fields included). */
  headers: Record<string, string | string[] | undefined>
  body: Readable
}

export interface OriginClientInit {
  /** The origin: what cache keys are URLs on. */
  origin: URL
  /** Where requests go instead, when not to the origin itself: a parent edge of the same origin. @default origin */
  upstream?: URL
  /** Most sockets open to the origin at once. */
  connections: number
  /** Time to establish a connection, in milliseconds. */
  connectTimeoutMs: number
  /** Time from sending a request to its complete response head, in milliseconds. */
  headersTimeoutMs: number
  /** Longest silence inside a response body, in milliseconds. */
  bodyTimeoutMs: number
  /** Origin requests one client may have waiting for a socket; past it the client gets 503. */
  maxQueuedPerClient: number
  /** Called when a response head arrives (or the request fails), for metrics. */
  onResponse?: (status: number | 'error', seconds: number) => void
}

export interface OriginClient {
  readonly origin: URL
  /** Where requests go: the origin or the parent edge. */
  readonly upstream: URL
  request: (req: OriginRequest) => Promise<OriginResponse>
  /** Absolute origin URL of a cache key. */
  urlFor: (key: string) => string
  readonly requests: number
  close: () => Promise<void>
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'])

/** The origin was too slow (504) rather than broken (502). */
export function isTimeout(err: unknown): boolean {
  return TIMEOUT_CODES.has(String((err as { code?: unknown } | undefined)?.code))
}

export function createOriginClient(init: OriginClientInit): OriginClient {
  const { origin } = init
  const upstream = init.upstream ?? origin
  // A parent edge maps a request path to its origin the way this edge does, so a key
  // is asked of it exactly as it would be of the origin (undici sets Host to the parent's).
  const pool = new Pool(upstream.origin, {
    connections: init.connections,
    connectTimeout: init.connectTimeoutMs,
    headersTimeout: init.headersTimeoutMs,
    bodyTimeout: init.bodyTimeoutMs,
    pipelining: 1
  })
  const turns = createFairQueue({
    concurrency: init.connections,
    // A quarter: even four clients that stall every body they ask for leave the origin reachable.
    maxRunningPerClient: Math.max(1, Math.floor(init.connections / 4)),
    maxQueuedPerClient: init.maxQueuedPerClient,
    maxQueued: init.maxQueuedPerClient * 64
  })
  let requests = 0

  const sendOnce = async (req: OriginRequest): Promise<OriginResponse> => {
    const release = await turns.acquire(req.client)
    req.onTurn?.()
    requests++
    const started = performance.now()
    try {
      const onInfo =
        req.onInfo === undefined
          ? undefined
          : (info: { statusCode: number; headers: Record<string, string | string[]> }) =>
              req.onInfo?.(info.statusCode, info.headers)
      const res = await pool.request({
        method: req.method,
        path: req.path,
        headers: req.headers,
        body: req.body,
        onInfo
      })
      init.onResponse?.(res.statusCode, (performance.now() - started) / 1000)
      res.body.once('close', release)
      return { status: res.statusCode, headers: res.headers, body: res.body }
    } catch (err) {
      release()
      init.onResponse?.('error', (performance.now() - started) / 1000)
      throw err
    }
  }

  return {
    origin,
    upstream,
    urlFor: key => origin.origin + key,
    get requests() {
      return requests
    },
    async request(req) {
      try {
        return await sendOnce(req)
      } catch (err) {
        // A keep-alive socket the origin closed just as we reused it: retrying is safe
        // for a request without a body, and nothing was read yet.
        if (req.body !== undefined || (err as { code?: string }).code !== 'UND_ERR_SOCKET') throw err
        return await sendOnce(req)
      }
    },
    async close() {
      await pool.destroy()
    }
  }
}

/** Drop a response body we will not read; undici reports that as an abort error, which is expected here. */
export function discard(body: Readable): void {
  body.on('error', () => {})
  body.destroy()
}
