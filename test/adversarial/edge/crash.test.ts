/**
 * A request with a body must not take the edge down: the access log used to read
 * `req.socket.remoteAddress` after the socket was gone, which threw outside any handler.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectVictim, mustStart, record, request } from './support/harness.js'
import type { EdgeChild } from './support/harness.js'
import { SMALL, serveSmall, startHttpOrigin } from './support/origins.js'
import type { HttpOrigin } from './support/origins.js'

let origin: HttpOrigin
const edges: EdgeChild[] = []

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) => {
    if (serveSmall(req, res)) return
    const parts: Buffer[] = []
    req.on('data', (c: Buffer) => parts.push(c))
    req.on('end', () => {
      res.writeHead(200, {
        'content-type': 'text/plain',
        'cache-control': 'no-store',
        'x-echo-method': req.method ?? ''
      })
      res.end(Buffer.concat(parts))
    })
  })
})

afterAll(async () => {
  for (const e of edges) await e.stop()
  await origin.close()
})

describe('crash', () => {
  it('POST /a with a form body (curl -d x=1) gets the origin answer and the edge lives', async () => {
    const edge = await mustStart(origin.url, ['--access-log', 'on'])
    edges.push(edge)
    let post: { status: number; body: string } | { error: string }
    try {
      const r = await request(edge.url + '/a', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: '*/*', 'user-agent': 'curl/8.5.0' },
        body: 'x=1'
      })
      post = { status: r.status, body: r.body.toString() }
    } catch (err) {
      post = { error: String(err) }
    }
    // The crash happened in the access log's handler for the closed response: its line for
    // this POST shows that handler ran to the end; an exit instead ends the wait too.
    const line = await edge.accessLine(l => l.method === 'POST' && l.url === '/a')
    let victim: string
    try {
      const v = await request(edge.url + '/small')
      victim = `${v.status} ${v.body.equals(SMALL) ? 'exact bytes' : 'wrong bytes'}`
    } catch (err) {
      victim = `error: ${String(err)}`
    }
    record('crash: POST x=1', {
      post,
      victim,
      alive: edge.alive(),
      exitCode: edge.child.exitCode,
      suspicious: edge.suspicious.slice(0, 3)
    })
    expect(post).toEqual({ status: 200, body: 'x=1' })
    expect(line).toMatchObject({ status: 200 })
    await expectVictim(edge, '/small', SMALL)
  })
})
