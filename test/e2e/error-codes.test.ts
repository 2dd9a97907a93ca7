/**
 * Error codes in real Chromium, as a page sees them (README "Error codes"): a resource no
 * HTTP source can deliver rejects `cdn.fetch` with ERR_HTTP; an edge slower than
 * `httpTimeoutMs` is ERR_TIMEOUT; IndexedDB refusing writes is ERR_STORAGE while the
 * content still loads; a tracker refusing the page's announce is ERR_TRACKER with the
 * refusal's reason, and the SDK does not keep asking.
 */
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { buildManifest, serializeManifest } from '../../protocol/src/index.js'
import { eventsOf, eventsWhenIn, fetchIn, sha256Hex, startCdnEnv, type CdnEnv } from '../helpers/cdn-env.js'
import { connectRaw } from '../helpers/tracker-client.js'

const SIZE = 1024 * 1024
const body = deterministicBytes(SIZE, 'error-codes')
const cacheable = { 'Cache-Control': 'public, max-age=3600' }

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv(
    {
      '/gone.bin': { body, headers: cacheable },
      '/slow.bin': { body, headers: cacheable, delayMs: 2500 },
      '/stored.bin': { body, headers: cacheable },
      '/refused.bin': { body, headers: cacheable }
    },
    // One peer per swarm: the second to announce is refused (swarm-full).
    { trackerInit: { maxPeersPerSwarm: 1 } }
  )
})

afterAll(async () => {
  await env.close()
})

/**
 * An edge that knows the resource (it answers its manifest) but serves none of it: 503
 * for every byte, as an overloaded one would.
 */
async function startFailingEdge(manifest: string): Promise<{ url: string; close: () => Promise<void> }> {
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-headers': 'Range',
    'access-control-expose-headers': 'X-P2PCDN-Region'
  }
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    if (req.method === 'OPTIONS') res.writeHead(204, cors).end()
    else if (path === '/_p2pcdn/ping') res.writeHead(200, { ...cors, 'x-p2pcdn-region': 'eu' }).end()
    else if (path === '/_p2pcdn/manifest')
      res.writeHead(200, { ...cors, 'content-type': 'application/json' }).end(manifest)
    else res.writeHead(503, cors).end('overloaded')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => await new Promise<void>(resolve => server.close(() => resolve()))
  }
}

it('every HTTP source failing: cdn.fetch rejects with ERR_HTTP naming each (not ERR_INTEGRITY), each failure an error event', async () => {
  const url = `${env.origin.url}/gone.bin`
  const sha256 = (b: Uint8Array): Promise<Uint8Array> => Promise.resolve(createHash('sha256').update(b).digest())
  const edge = await startFailingEdge(serializeManifest(await buildManifest({ url }, body, sha256)))
  env.origin.files['/gone.bin'] = { body: 'gone', status: 503 }
  const page = await env.openPage()
  const failed = await page.evaluate(
    async edges => {
      const w = globalThis as any
      const cdn = w.P2PCDN.create({ edges })
      const errors: unknown[] = []
      cdn.on('error', (e: unknown) => errors.push(e))
      try {
        await cdn.fetch('/gone.bin')
        return { resolved: true }
      } catch (err: any) {
        return { code: err?.code, message: String(err?.message), errors }
      }
    },
    [edge.url]
  )
  expect(failed).toMatchObject({ code: 'ERR_HTTP' })
  expect(failed.message).toContain(`${edge.url}/gone.bin bytes 0-262143 answered 503`)
  expect(failed.message).toContain(`${url} bytes 0-262143 answered 503`)
  // Each source of each chunk in flight says why it failed, all ERR_HTTP.
  const errors = failed.errors as Array<{ code: string; message: string; url: string }>
  expect(errors).toContainEqual({ code: 'ERR_HTTP', message: expect.stringContaining(`${edge.url}/gone.bin`), url })
  expect(errors).toContainEqual({ code: 'ERR_HTTP', message: expect.stringContaining(`${url} bytes`), url })
  expect(new Set(errors.map(e => e.code))).toEqual(new Set(['ERR_HTTP']))
  await page.context().close()
  await edge.close()
})

it('an edge slower than httpTimeoutMs: an ERR_TIMEOUT error event, and the origin serves', async () => {
  const page = await env.openPage()
  const r = await fetchIn(page, '/slow.bin', { edges: [env.edges[0]!.url], httpTimeoutMs: 1000 })
  expect(r.sha256).toBe(sha256Hex(body))
  expect(eventsOf(r, 'error')).toContainEqual({
    code: 'ERR_TIMEOUT',
    message: expect.stringContaining('no complete answer in 1000 ms'),
    url: `${env.origin.url}/slow.bin`
  })
  await page.context().close()
})

/** IndexedDB opens, but refuses every chunk write as over quota. */
function refuseChunkWrites(): void {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the store as `this`
  const put = IDBObjectStore.prototype.put
  IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<typeof put>) {
    if (this.name === 'chunks') throw new DOMException('quota exceeded (test)', 'QuotaExceededError')
    return put.apply(this, args)
  }
}

it('IndexedDB refusing writes: ERR_STORAGE error events, and the content still loads', async () => {
  const page = await env.openPage({ init: [[refuseChunkWrites]] })
  const r = await fetchIn(page, '/stored.bin', { edges: [env.edges[0]!.url] })
  expect(r.sha256).toBe(sha256Hex(body))
  expect(r.stats.storage).toBe('indexeddb')
  // Chunks are written after they are served, so the refusals may come after the fetch ends.
  const errors = await eventsWhenIn(page, 'error')
  expect(errors.length).toBeGreaterThan(0)
  for (const e of errors)
    expect(e).toEqual({ code: 'ERR_STORAGE', message: expect.stringContaining('QuotaExceededError') })
  await page.context().close()
})

/** Count the announces a page sends to the tracker, on `window.__announces`. */
function countAnnounces(): void {
  const w = window as any
  w.__announces = []
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be called with the socket as `this`
  const send = WebSocket.prototype.send
  WebSocket.prototype.send = function (this: WebSocket, data: Parameters<typeof send>[0]) {
    if (typeof data === 'string' && data.includes('"action":"announce"') && !data.includes('"answer"'))
      w.__announces.push(JSON.parse(data).event ?? 'regular')
    send.call(this, data)
  }
}

it('a tracker refusing the announce: an ERR_TRACKER error event with its reason; content over HTTP; no fast retry', async () => {
  const swarm = 'full-swarm'
  // Someone else holds the swarm's one place.
  const holder = await connectRaw(env.tracker.url)
  const infoHash = createHash('sha256').update(swarm).digest().subarray(0, 20).toString('latin1')
  holder.send({
    action: 'announce',
    info_hash: infoHash,
    peer_id: randomBytes(20).toString('latin1'),
    event: 'started'
  })
  await holder.next(m => m.action === 'announce')

  const page = await env.openPage({ init: [[countAnnounces]] })
  const r = await fetchIn(page, '/refused.bin', { tracker: env.tracker.url, swarm, edges: [env.edges[0]!.url] })
  expect(r.sha256).toBe(sha256Hex(body))
  const refusals = await eventsWhenIn(page, 'error', 'ERR_TRACKER')
  expect(refusals).toContainEqual({
    code: 'ERR_TRACKER',
    message: 'swarm is full; try again later',
    reason: 'swarm-full'
  })
  // Asked again after the tracker's interval (doubling), not in a loop.
  await page.waitForTimeout(1500)
  expect(await page.evaluate(() => (globalThis as any).__announces)).toEqual(['started'])
  await page.context().close()
  await holder.close()
})
