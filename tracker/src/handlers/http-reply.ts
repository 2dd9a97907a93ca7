/** Writing one whole HTTP response: no caching, a length, no body for HEAD. */
import type { ServerResponse } from 'node:http'

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {}
): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers)
}

export function send(
  res: ServerResponse,
  status: number,
  type: string,
  text: string,
  headers: Record<string, string> = {}
): void {
  res.writeHead(status, {
    ...headers,
    'content-type': type,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store'
  })
  res.end(res.req.method === 'HEAD' ? undefined : text)
}

/** An HTML body, as a route returns it, with headers of its own (its CSP). */
export class Page {
  constructor(
    readonly html: string,
    readonly headers: Record<string, string> = {}
  ) {}
}
