import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { extname, join, normalize, sep } from 'node:path'
import { parseRange } from '../../edge/src/range.js'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.mp4': 'video/mp4',
  '.bin': 'application/octet-stream',
  '.json': 'application/json',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t'
}

export interface StaticOriginInit {
  root: string
  port: number
  host: string
  /** Text substitutions applied to .html files, e.g. `{ '{{TRACKER}}': 'ws://...' }`. */
  substitutions?: Record<string, string>
  /** Extra JSON endpoints by path, e.g. the tracker's stats for the page (same origin, no CORS needed). */
  routes?: Record<string, () => Promise<unknown>>
}

/**
 * The demo's origin: static files with ETag, Last-Modified, Cache-Control and Range, the
 * way an ordinary web server answers. It counts what it served so the page can show it.
 */
export async function startStaticOrigin(
  init: StaticOriginInit
): Promise<{ server: Server; url: string; served: () => { requests: number; bytes: number } }> {
  let requests = 0
  let bytes = 0
  const server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
      const route = init.routes?.[path]
      if (route !== undefined) {
        const body = JSON.stringify(await route())
        res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(body)
        return
      }
      const file = normalize(join(init.root, path.endsWith('/') ? path + 'index.html' : path))
      if (!file.startsWith(init.root + sep) || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(req.method === 'GET' || req.method === 'HEAD' ? 404 : 405).end()
        return
      }
      const info = await stat(file).catch(() => undefined)
      if (info?.isFile() !== true) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n')
        return
      }
      requests++
      const type = TYPES[extname(file)] ?? 'application/octet-stream'
      const headers: Record<string, string> = {
        'Content-Type': type,
        'Access-Control-Allow-Origin': '*',
        'Accept-Ranges': 'bytes',
        ETag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`,
        'Last-Modified': info.mtime.toUTCString(),
        // The page itself is templated per run; everything else may be cached for an hour.
        'Cache-Control': type.startsWith('text/html') ? 'no-store' : 'public, max-age=3600'
      }
      if (type.startsWith('text/html')) {
        let text = await readFile(file, 'utf8')
        for (const [from, to] of Object.entries(init.substitutions ?? {})) text = text.replaceAll(from, to)
        bytes += Buffer.byteLength(text)
        res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : text)
        return
      }
      // One range as 206; several (or a malformed header) get the whole file, which RFC 9110 allows.
      const range = parseRange(req.headers.range, info.size)
      if (range.kind === 'unsatisfiable') {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${info.size}` }).end()
        return
      }
      const one = range.kind === 'ranges' && range.ranges.length === 1 ? range.ranges[0]! : undefined
      const start = one?.start ?? 0
      const end = one?.end ?? info.size - 1
      if (one !== undefined) headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`
      headers['Content-Length'] = String(end - start + 1)
      res.writeHead(one === undefined ? 200 : 206, headers)
      if (req.method === 'HEAD') {
        res.end()
        return
      }
      bytes += end - start + 1
      createReadStream(file, { start, end }).pipe(res)
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end()
      else res.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.port, init.host, resolve)
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : init.port
  return { server, url: `http://${init.host}:${port}`, served: () => ({ requests, bytes }) }
}
