/**
 * HTTP(S) requests to the one origin, over a keep-alive agent. `node:http` rather
 * than `fetch`: a proxy needs the bytes exactly as sent (no transparent
 * decompression, no redirect following, no forbidden-header rules).
 */
import http from 'node:http'
import https from 'node:https'
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { TimeoutError } from '../../protocol/src/index.js'

export interface OriginRequest {
  method: string
  /** Origin-form target: path and query. */
  path: string
  headers: OutgoingHttpHeaders
  /** Request body to stream to the origin; none when absent. */
  body?: Readable
}

export interface OriginClientInit {
  origin: URL
  /** Socket idle timeout, in milliseconds. */
  timeoutMs: number
  /** Called once per request sent, for stats. */
  onRequest?: () => void
}

export interface OriginClient {
  readonly origin: URL
  request: (req: OriginRequest) => Promise<IncomingMessage>
  /** Absolute origin URL of a cache key. */
  urlFor: (key: string) => string
  close: () => void
}

type RetryableError = NodeJS.ErrnoException & { reusedSocket?: boolean }

export function createOriginClient (init: OriginClientInit): OriginClient {
  const { origin, timeoutMs } = init
  const secure = origin.protocol === 'https:'
  const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true })
  const send = secure ? https.request : http.request

  const sendOnce = async (req: OriginRequest): Promise<IncomingMessage> => {
    init.onRequest?.()
    return await new Promise((resolve, reject) => {
      const out = send({
        protocol: origin.protocol,
        hostname: origin.hostname.replace(/^\[|\]$/g, ''),
        port: origin.port === '' ? undefined : Number(origin.port),
        method: req.method,
        path: req.path,
        headers: { ...req.headers, host: origin.host },
        agent
      }, resolve)
      out.setTimeout(timeoutMs, () => out.destroy(new TimeoutError(`origin idle for ${timeoutMs} ms`)))
      out.on('error', (err: RetryableError) => {
        const code = err.code
        if (out.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE')) err.reusedSocket = true
        reject(err)
      })
      if (req.body === undefined) {
        out.end()
      } else {
        req.body.on('error', err => out.destroy(err))
        req.body.pipe(out)
      }
    })
  }

  return {
    origin,
    urlFor: key => origin.origin + key,
    async request (req) {
      try {
        return await sendOnce(req)
      } catch (err) {
        // A keep-alive socket the origin closed just as we reused it. Node's docs
        // recommend retrying: safe for a request without a body, and nothing was read yet.
        if (req.body !== undefined || !(err as RetryableError).reusedSocket) throw err
        return await sendOnce(req)
      }
    },
    close () {
      agent.destroy()
    }
  }
}
