/**
 * A tiny origin server for tests: serves `files` by path with GET/HEAD, single byte
 * ranges (206/416), If-None-Match and If-Modified-Since (304) and CORS `*`, and counts
 * what it was asked. A file's `handler` answers in its place.
 * Any other method gets its request body echoed back.
 *
 * @example
 * ```ts
 * const origin = await startOrigin({ '/a.bin': { body: bytes, headers: { 'Cache-Control': 'max-age=60' } } })
 * await fetch(`${origin.url}/a.bin`)
 * origin.requests.get('/a.bin') // 1
 * await origin.close()
 * ```
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OriginFile {
  body: Uint8Array | string
  /** Content-Type. @default 'application/octet-stream' */
  type?: string
  /** Extra response headers (any case); they override the defaults, ETag included. */
  headers?: Record<string, string>
  /** Wait this long, in milliseconds, before answering. @default 0 */
  delayMs?: number
  /** Answer with this status and the body, no ranges. @default 200 */
  status?: number
  /** Answer this way instead (after `delayMs`): for 304s with new headers, broken bodies, redirects. */
  handler?: (req: IncomingMessage, res: ServerResponse) => void
}

export interface OriginRequestRecord {
  method: string
  /** Path and query as requested. */
  url: string
  headers: http.IncomingHttpHeaders
}

export interface TestOrigin {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  url: string
  port: number
  /** Requests per path (query ignored), every method. */
  requests: Map<string, number>
  /** Every request, in arrival order. */
  log: OriginRequestRecord[]
  /** Served files; tests may add, replace or delete entries while running. */
  files: Record<string, OriginFile>
  totalRequests: () => number
  /** Response body bytes sent so far. */
  readonly bytesServed: number
  close: () => Promise<void>
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'Range, If-Range, If-None-Match, Content-Type',
  'access-control-expose-headers': 'Content-Length, Content-Range, Content-Type, ETag, Accept-Ranges'
}

export async function startOrigin(files: Record<string, OriginFile>): Promise<TestOrigin> {
  const requests = new Map<string, number>()
  const log: OriginRequestRecord[] = []
  let bytesServed = 0

  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    const path = url.split('?')[0] ?? '/'
    requests.set(path, (requests.get(path) ?? 0) + 1)
    log.push({ method: req.method ?? 'GET', url, headers: req.headers })
    const file = files[url] ?? files[path]
    const answer = (): void => {
      if (file?.handler !== undefined) {
        file.handler(req, res)
        return
      }
      const sent = respond(req, res, file)
      if (sent instanceof Promise)
        void sent.then(n => {
          bytesServed += n
        })
      else bytesServed += sent
    }
    if (file?.delayMs !== undefined && file.delayMs > 0) setTimeout(answer, file.delayMs)
    else answer()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    log,
    files,
    totalRequests: () => log.length,
    get bytesServed() {
      return bytesServed
    },
    async close() {
      const closed = new Promise<void>(resolve => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
    }
  }
}

/** Returns body bytes sent (a promise of them for echoed bodies). */
function respond(req: IncomingMessage, res: ServerResponse, file: OriginFile | undefined): number | Promise<number> {
  const method = req.method ?? 'GET'
  if (method === 'OPTIONS') return end(res, 204, {})
  if (method !== 'GET' && method !== 'HEAD') return echo(req, res)
  if (file === undefined) return end(res, 404, { 'content-type': 'text/plain' }, 'not found\n', method === 'HEAD')

  const body =
    typeof file.body === 'string'
      ? Buffer.from(file.body)
      : Buffer.from(file.body.buffer, file.body.byteOffset, file.body.byteLength)
  const headers: Record<string, string> = {
    'content-type': file.type ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`,
    'accept-ranges': 'bytes'
  }
  for (const [name, value] of Object.entries(file.headers ?? {})) headers[name.toLowerCase()] = value
  const head = method === 'HEAD'
  if (file.status !== undefined && file.status !== 200) return end(res, file.status, headers, body, head)

  const ims = req.headers['if-modified-since']
  if (
    req.headers['if-none-match'] === undefined &&
    ims !== undefined &&
    headers['last-modified'] !== undefined &&
    Date.parse(headers['last-modified']) <= Date.parse(ims)
  ) {
    return end(res, 304, headers)
  }
  const inm = req.headers['if-none-match']
  if (
    inm !== undefined &&
    headers.etag !== undefined &&
    inm.split(',').some(t => t.trim().replace(/^W\//, '') === headers.etag?.replace(/^W\//, ''))
  ) {
    return end(res, 304, headers)
  }
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
  if (range !== null && (range[1] !== '' || range[2] !== '')) {
    const size = body.length
    let start: number
    let last: number
    if (range[1] === '') {
      start = Math.max(0, size - Number(range[2]))
      last = size - 1
      if (Number(range[2]) === 0) start = size
    } else {
      start = Number(range[1])
      last = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1)
    }
    if (start >= size || start > last)
      return end(res, 416, { ...headers, 'content-range': `bytes */${size}` }, '', head)
    return end(
      res,
      206,
      { ...headers, 'content-range': `bytes ${start}-${last}/${size}` },
      body.subarray(start, last + 1),
      head
    )
  }
  return end(res, 200, headers, body, head)
}

function end(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  body?: Uint8Array | string,
  head = false
): number {
  const bytes = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body
  res.writeHead(status, {
    ...CORS,
    ...headers,
    ...(bytes === undefined ? {} : { 'content-length': String(bytes.length) })
  })
  if (bytes === undefined || head) {
    res.end()
    return 0
  }
  res.end(bytes)
  return bytes.length
}

async function echo(req: IncomingMessage, res: ServerResponse): Promise<number> {
  const parts: Buffer[] = []
  for await (const chunk of req) parts.push(chunk as Buffer)
  const body = Buffer.concat(parts)
  return end(
    res,
    200,
    {
      'content-type': req.headers['content-type'] ?? 'application/octet-stream',
      'x-echo-method': req.method ?? '',
      'cache-control': 'no-store'
    },
    body
  )
}
