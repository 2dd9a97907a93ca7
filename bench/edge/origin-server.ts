/**
 * The benchmark origin, in its own process so its CPU is not counted against either
 * cache: `/1k` and `/1m`, cacheable for an hour. Prints `{"port":N}` once listening.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

const OBJECTS: Record<string, Buffer> = {
  '/1k': Buffer.alloc(1024, 'a'),
  '/1m': Buffer.alloc(1024 * 1024, 'b')
}

const server = http.createServer((req, res) => {
  const body = OBJECTS[req.url ?? '']
  if (body === undefined) {
    res.writeHead(404, { 'content-length': '0' })
    res.end()
    return
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(body.length),
    'cache-control': 'public, max-age=3600',
    etag: `"${body.length}"`
  })
  res.end(body)
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n')
})
