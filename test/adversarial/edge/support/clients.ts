/** Attacking and measuring clients that stream bodies instead of holding them. */
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'

export interface Streamed {
  status: number
  headers: IncomingHttpHeaders
  bytes: number
  sha256: string
  /** The body stopped at `limit` bytes: the client gave up reading. */
  cut: boolean
  /** The first bytes of the body, for checking what kind of body it is. */
  head: string
}

/**
 * GET `url` reading at full speed, hashing rather than keeping the body; stops after
 * `limit` bytes so a runaway response cannot fill the test process.
 */
export async function streamGet(
  url: string,
  opts: {
    headers?: Record<string, string>
    limit?: number
    timeoutMs?: number
    signal?: AbortSignal
    localAddress?: string
  } = {}
): Promise<Streamed> {
  const limit = opts.limit ?? Number.POSITIVE_INFINITY
  return await new Promise<Streamed>((resolve, reject) => {
    const req = http.request(
      url,
      {
        headers: opts.headers,
        agent: false,
        timeout: opts.timeoutMs ?? 30_000,
        signal: opts.signal,
        localAddress: opts.localAddress
      },
      res => {
        const hash = createHash('sha256')
        let bytes = 0
        let head = ''
        const done = (cut: boolean): void =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, sha256: hash.digest('hex'), cut, head })
        res.on('data', (c: Buffer) => {
          if (head.length < 200) head += c.subarray(0, 200 - head.length).toString('latin1')
          bytes += c.length
          hash.update(c)
          if (bytes > limit) {
            req.destroy()
            done(true)
          }
        })
        res.on('end', () => done(false))
        res.on('error', reject)
        res.on('aborted', () => reject(new Error(`response aborted after ${bytes} bytes`)))
      }
    )
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)))
    req.on('error', reject)
    req.end()
  })
}
