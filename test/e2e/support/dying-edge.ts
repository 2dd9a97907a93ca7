/**
 * An edge that dies in the middle of a fetch: a plain HTTP proxy in front of a real edge
 * that passes everything through (ping, manifest, chunks) until it has served
 * `rangesBeforeDeath` `Range` responses. At the next Range request it dies: its port is
 * closed (new connections are refused) and every request after that, on a connection
 * already open, has its connection destroyed unanswered. Responses already being sent
 * finish, so what the page got from it is exactly what it counts as served.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface DyingEdge {
  /** Where pages reach it: `http://127.0.0.1:PORT`. */
  url: string
  /** Body bytes of the Range responses it served whole. */
  readonly rangeBytesServed: number
  /** `Range` headers of those responses, in order. */
  readonly rangesServed: string[]
  /** Manifest requests it passed through. */
  readonly manifests: number
  /** Resolves once it has died. */
  died: Promise<void>
  /** Close what is left (for afterAll). */
  close: () => Promise<void>
}

export async function startDyingEdge(edgeUrl: string, rangesBeforeDeath: number): Promise<DyingEdge> {
  const target = new URL(edgeUrl)
  const rangesServed: string[] = []
  let rangeBytesServed = 0
  let rangesStarted = 0
  let manifests = 0
  let dead = false
  let markDied = (): void => {}
  const died = new Promise<void>(resolve => (markDied = resolve))
  const server = http.createServer((req, res) => {
    const range = req.headers.range
    if (range !== undefined && ++rangesStarted > rangesBeforeDeath) die()
    if (dead) {
      req.socket.destroy()
      return
    }
    if (req.url?.startsWith('/_p2pcdn/manifest') === true) manifests++
    const headers = { ...req.headers, host: target.host }
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers },
      answer => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        let bytes = 0
        answer.on('data', (chunk: Buffer) => (bytes += chunk.length))
        answer.pipe(res)
        res.on('finish', () => {
          if (range === undefined) return
          rangesServed.push(range)
          rangeBytesServed += bytes
        })
      }
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  })
  const closed = new Promise<void>(resolve => server.once('close', resolve))
  const die = (): void => {
    if (dead) return
    dead = true
    server.close()
    server.closeIdleConnections()
    markDied()
  }
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get rangeBytesServed() {
      return rangeBytesServed
    },
    get rangesServed() {
      return [...rangesServed]
    },
    get manifests() {
      return manifests
    },
    died,
    async close() {
      die()
      server.closeAllConnections()
      await closed
    }
  }
}
