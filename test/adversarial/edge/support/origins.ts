/**
 * Origins the attacks run against: a plain `http` server with a per-test handler and
 * an arrival log, and a raw `net` server for hostile answers no `http` server sends.
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'

export interface Arrival {
  method: string
  url: string
  headers: IncomingHttpHeaders
  /** Arrival order across all paths, from 0. */
  seq: number
}

export interface HttpOrigin {
  url: string
  port: number
  log: Arrival[]
  count: (path: string) => number
  close: () => Promise<void>
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: number) => void

/**
 * `handler` gets each request and how many earlier requests had the same path (query
 * included), so "the first answer differs" origins are one line.
 */
export async function startHttpOrigin(handler: Handler): Promise<HttpOrigin> {
  const log: Arrival[] = []
  const perPath = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    const seen = perPath.get(url) ?? 0
    perPath.set(url, seen + 1)
    log.push({ method: req.method ?? 'GET', url, headers: req.headers, seq: log.length })
    // An origin that errors must not end the test run; the edge is what is tested.
    res.on('error', () => {})
    try {
      handler(req, res, seen)
    } catch {
      res.destroy()
    }
  })
  server.keepAliveTimeout = 30_000
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    log,
    count: path => log.filter(a => a.url === path).length,
    async close() {
      const closed = new Promise<void>(resolve => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
    }
  }
}

export interface RawOrigin {
  url: string
  port: number
  /** Request heads received, in order (first line and headers as text). */
  heads: string[]
  close: () => Promise<void>
}

/**
 * `onRequest` gets the socket and the first request head; it writes whatever bytes it
 * likes. One request per connection is enough for the hostile cases.
 */
export async function startRawOrigin(onRequest: (socket: net.Socket, head: string) => void): Promise<RawOrigin> {
  const heads: string[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buffered = ''
    socket.on('data', (c: Buffer) => {
      buffered += c.toString('latin1')
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = buffered.slice(0, end)
      buffered = buffered.slice(end + 4)
      heads.push(head)
      onRequest(socket, head)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    heads,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

/** Deterministic bytes of `size` for `seed` (xorshift32): cheap to regenerate and compare. */
export function bytes(size: number, seed: string): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4))
  let x = createHash('sha256').update(seed).digest().readUInt32LE(0) | 1
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
  return Buffer.from(words.buffer, 0, size)
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

/** The object every victim asks for: small, cacheable, known bytes. */
export const SMALL = bytes(4096, 'small')
export const SMALL_HEADERS = {
  'content-type': 'application/octet-stream',
  'cache-control': 'public, max-age=600',
  'content-length': String(SMALL.length)
}

/** Serve `/small` and return true; false for any other path. */
export function serveSmall(req: IncomingMessage, res: ServerResponse): boolean {
  if (req.url !== '/small') return false
  res.writeHead(200, SMALL_HEADERS)
  res.end(SMALL)
  return true
}
