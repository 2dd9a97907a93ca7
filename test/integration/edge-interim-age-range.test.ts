/**
 * Three caching rules against a real edge in front of an origin that counts its
 * requests: the origin's `Age` on a MISS (RFC 9111 §4.2.3), 1xx interim responses
 * forwarded and never stored (RFC 9110 §15.2), and a stored 200's `Content-Range` kept.
 */
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEdge } from '../../edge/src/index.js'
import type { Edge } from '../../edge/src/index.js'
import { startOrigin } from '../helpers/origin.js'
import type { TestOrigin } from '../helpers/origin.js'

let origin: TestOrigin
let edge: Edge

beforeAll(async () => {
  origin = await startOrigin({
    '/old': { body: 'two hours old', headers: { 'Cache-Control': 'public, max-age=3600', Age: '7200' } },
    '/aging': { body: 'half an hour old', headers: { 'Cache-Control': 'public, max-age=3600', Age: '1800' } },
    '/hints': {
      body: '',
      handler(_req, res) {
        res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' })
        res.writeHead(200, {
          'content-type': 'text/html',
          'cache-control': 'public, max-age=600',
          'content-length': '5'
        })
        res.end('hints')
      }
    },
    '/ranged-200': {
      body: '0123456789',
      headers: { 'Cache-Control': 'public, max-age=600', 'Content-Range': 'bytes 0-9/10' }
    }
  })
  edge = createEdge({ origin: origin.url, port: 0 })
  await edge.start()
})

afterAll(async () => {
  await edge.stop()
  await origin.close()
})

/** One GET on a raw socket: every byte the edge sent, interim responses included. */
async function rawGet(path: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect(edge.port, '127.0.0.1', () =>
      socket.write(`GET ${path} HTTP/1.1\r\nhost: edge\r\nconnection: close\r\n\r\n`)
    )
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => {
      text += c
    })
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

describe('Age (RFC 9111 §4.2.3)', () => {
  it("sends the origin's Age on a MISS, so a client does not take an old response as new", async () => {
    const miss = await fetch(`${edge.url}/old`)
    expect(miss.headers.get('x-cache')).toBe('MISS')
    expect(Number(miss.headers.get('age'))).toBeGreaterThanOrEqual(7200)
    await miss.text()
    const aging = await fetch(`${edge.url}/aging`)
    expect(aging.headers.get('x-cache')).toBe('MISS')
    expect(Number(aging.headers.get('age'))).toBeGreaterThanOrEqual(1800)
    await aging.text()
    const hit = await fetch(`${edge.url}/aging`)
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(Number(hit.headers.get('age'))).toBeGreaterThanOrEqual(1800)
    expect(origin.requests.get('/aging')).toBe(1)
  })
})

describe('1xx interim responses (RFC 9110 §15.2)', () => {
  it('forwards 103 Early Hints to the client that caused it, and never stores or replays it', async () => {
    const first = await rawGet('/hints')
    const hintAt = first.indexOf('HTTP/1.1 103')
    const finalAt = first.indexOf('HTTP/1.1 200')
    expect(hintAt).toBe(0)
    expect(finalAt).toBeGreaterThan(hintAt)
    expect(first.slice(0, finalAt).toLowerCase()).toContain('link: </style.css>; rel=preload; as=style')
    expect(first.endsWith('hints')).toBe(true)
    const second = await rawGet('/hints')
    expect(second.startsWith('HTTP/1.1 200')).toBe(true)
    expect(second).toContain('x-cache: HIT')
    expect(second).not.toContain('HTTP/1.1 103')
    expect(origin.requests.get('/hints')).toBe(1)
  })
})

describe('Content-Range on a stored 200', () => {
  it('is kept like any other field', async () => {
    await (await fetch(`${edge.url}/ranged-200`)).text()
    const hit = await fetch(`${edge.url}/ranged-200`)
    expect(hit.status).toBe(200)
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(hit.headers.get('content-range')).toBe('bytes 0-9/10')
    expect(await hit.text()).toBe('0123456789')
  })
})
