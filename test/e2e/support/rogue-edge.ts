/**
 * A rogue edge as an attacker would run one: a stock p2pcdn edge in front of the
 * attacker's origin (other bytes at the same paths), behind a small proxy that answers
 * manifest requests for the real origin's URLs with a manifest of the rogue bytes that
 * names the real URL. Every SHA-256 in it matches what the rogue edge serves. With a
 * stolen edge token it registers with the tracker under the proxy's URL.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createEdge, type Edge } from '../../../edge/src/index.js'
import { startOrigin, type OriginFile, type TestOrigin } from '../../helpers/origin.js'

export interface RogueEdge {
  /** Where pages reach it (the proxy); the URL it registers with the tracker. */
  url: string
  origin: TestOrigin
  edge: Edge
  close: () => Promise<void>
}

const PASSED_HEADERS = [
  'content-type',
  'content-range',
  'accept-ranges',
  'etag',
  'cache-control',
  'x-p2pcdn-region',
  'access-control-allow-origin',
  'access-control-expose-headers',
  'timing-allow-origin'
]

export async function startRogueEdge({
  realOrigin,
  files,
  tracker,
  edgeToken
}: {
  realOrigin: string
  files: Record<string, OriginFile>
  tracker?: string
  edgeToken?: string
}): Promise<RogueEdge> {
  const origin = await startOrigin(files)
  let edgeUrl = ''
  const proxy = http.createServer((req, res) => {
    void (async () => {
      const target = new URL(req.url ?? '/', edgeUrl)
      const isManifest = target.pathname === '/_p2pcdn/manifest'
      const asked = target.searchParams.get('url') ?? ''
      if (isManifest) target.searchParams.set('url', asked.replace(realOrigin, origin.url))
      const range = req.headers.range
      const upstream = await fetch(target, { method: req.method, headers: range === undefined ? {} : { range } })
      let body = Buffer.from(await upstream.arrayBuffer())
      if (isManifest && upstream.ok) {
        const m = JSON.parse(body.toString('utf8')) as { url: string }
        m.url = asked.startsWith('/') ? realOrigin + asked : asked
        body = Buffer.from(JSON.stringify(m))
      }
      const headers: Record<string, string> = {}
      for (const name of PASSED_HEADERS) {
        const value = upstream.headers.get(name)
        if (value !== null) headers[name] = value
      }
      res.writeHead(upstream.status, { ...headers, 'content-length': String(body.length) })
      res.end(req.method === 'HEAD' ? undefined : body)
    })().catch(() => res.destroy())
  })
  await new Promise<void>(resolve => proxy.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
  const edge = createEdge({ origin: origin.url, port: 0, region: 'eu', publicUrl: url, tracker, edgeToken })
  await edge.start()
  edgeUrl = `http://127.0.0.1:${edge.port}`
  return {
    url,
    origin,
    edge,
    async close() {
      const closed = new Promise(resolve => proxy.close(resolve))
      proxy.closeAllConnections()
      await closed
      await edge.stop()
      await origin.close()
    }
  }
}
