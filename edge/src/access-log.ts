/**
 * One JSON line per request. Lines are batched and handed to the sink once per event
 * loop turn, so a busy edge makes one write call per turn, not one per request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { remoteOf } from './origin-request.js'

/** What a handler records about its answer, read when the response finishes. */
export interface ResponseNote {
  cache: string
  bytes: number
}

const NOTE = Symbol('p2pcdn.note')
type Noted = ServerResponse & { [NOTE]?: ResponseNote }

export function note(res: ServerResponse, cache: string, bytes: number): void {
  const noted = res as Noted
  const prior = noted[NOTE]
  if (prior === undefined) noted[NOTE] = { cache, bytes }
  else {
    prior.cache = cache
    prior.bytes = bytes
  }
}

export function noteOf(res: ServerResponse): ResponseNote | undefined {
  return (res as Noted)[NOTE]
}

export interface AccessLog {
  /** Call at request start; logs when the response finishes or the connection closes. */
  track: (req: IncomingMessage, res: ServerResponse) => void
  flush: () => void
}

export function createAccessLog(sink: (lines: string) => void): AccessLog {
  let buffered = ''
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    if (buffered === '') return
    const out = buffered
    buffered = ''
    sink(out)
  }
  return {
    flush,
    track(req, res) {
      const started = performance.now()
      // Read now: once a request body has been consumed the socket may already be detached.
      const remote = remoteOf(req)
      res.once('close', () => {
        const n = noteOf(res)
        buffered +=
          JSON.stringify({
            t: new Date().toISOString(),
            event: 'access',
            method: req.method,
            url: req.url,
            status: res.statusCode,
            cache: n?.cache ?? '-',
            bytes: n?.bytes ?? 0,
            ms: Math.round((performance.now() - started) * 100) / 100,
            remote,
            completed: res.writableFinished
          }) + '\n'
        if (!scheduled) {
          scheduled = true
          setImmediate(flush)
        }
      })
    }
  }
}
