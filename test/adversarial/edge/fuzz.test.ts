/**
 * HTTP fuzzing, bounded and seeded (FUZZ_SEED reproduces a run): hostile clients
 * against a normal origin, then a hostile raw origin behind the edge. After every batch
 * the edge must be alive and serve a normal object exactly; at the end its logs must
 * hold no uncaught error or stack trace.
 */
import type { Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bounded, expectVictim, mustStart, raw, record, request } from './support/harness.js'
import type { EdgeChild } from './support/harness.js'
import { SMALL, SMALL_HEADERS, serveSmall, startHttpOrigin, startRawOrigin } from './support/origins.js'
import type { HttpOrigin, RawOrigin } from './support/origins.js'

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed)
const CLIENT_CASES = 2400
const BATCH = 300

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Rand = () => number
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T
const junk = (r: Rand, n: number): string =>
  Array.from({ length: n }, () => String.fromCharCode(Math.floor(r() * 256))).join('')

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'CONNECT',
  'PATCH',
  'G ET',
  'get',
  '',
  'PROPFIND',
  'X'.repeat(300),
  'GET\0'
]
const TARGETS = [
  '/small',
  '/a',
  '/../etc/passwd',
  '/%2e%2e/%2e%2e/x',
  '/a%2fb',
  '/a%5cb',
  '/a\\b',
  '//evil.example/x',
  'http://evil.example/x',
  'http://127.0.0.1/small',
  '*',
  '/?' + 'q'.repeat(9000),
  '/%00',
  '/%',
  '/%zz',
  '/a/./b/../c',
  '/\u00ff',
  '/ space',
  '/small#frag',
  '/_p2pcdn/../small',
  '/_p2pcdn/manifest?url=http://evil.example/'
]
const VERSIONS = ['HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1 extra', '', 'HTTP/1.10', 'http/1.1']
const RANGES = [
  'bytes=0-',
  'bytes=-0',
  'bytes=5-1',
  'bytes=0-0,0-0,0-0',
  'bytes=99999999999999999999-',
  'bytes=--1',
  'bytes=a-b',
  'items=0-1',
  'bytes=' + '0-1,'.repeat(2000),
  'bytes= 0 - 1 ',
  'bytes=-99999'
]

function headerLines(r: Rand): string {
  const lines: string[] = []
  const n = Math.floor(r() * 6)
  for (let i = 0; i < n; i++) {
    switch (Math.floor(r() * 10)) {
      case 0:
        lines.push(`X-Big: ${'b'.repeat(Math.floor(r() * 40_000))}`)
        break
      case 1:
        lines.push('Host: a', 'Host: b')
        break
      case 2:
        lines.push(`Bad Header: ${junk(r, 5)}`)
        break
      case 3:
        lines.push(`X-Inject: a\r\nX-Injected: 1`)
        break
      case 4:
        lines.push(`X-Bare-CR: a\rb`)
        break
      case 5:
        lines.push(`Range: ${pick(r, RANGES)}`)
        break
      case 6:
        lines.push('Content-Length: 5', 'Content-Length: 6')
        break
      case 7:
        lines.push(`${junk(r, 8)}: ${junk(r, 8)}`)
        break
      case 8:
        lines.push('If-None-Match: ' + '"x",'.repeat(3000))
        break
      default:
        lines.push(` folded-continuation`)
        break
    }
  }
  return lines.map(l => l + '\r\n').join('')
}

function bodyPart(r: Rand): string {
  switch (Math.floor(r() * 7)) {
    case 0:
      return 'Content-Length: 100\r\n\r\nshort' // lies: fewer bytes than declared
    case 1:
      return 'Content-Length: 2\r\n\r\nlonger than two' // the rest looks like a pipelined request
    case 2:
      return 'Transfer-Encoding: chunked\r\n\r\nzz\r\nbad\r\n0\r\n\r\n'
    case 3:
      return 'Transfer-Encoding: chunked\r\n\r\n5\r\nhel' // truncated chunk
    case 4:
      return 'Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n'
    case 5:
      return 'Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n'
    default:
      return '\r\n'
  }
}

/** One hostile client case: bytes to send, and whether to close half-way. */
function clientCase(r: Rand): { data: string[]; endAfterWrite: boolean } {
  const line = `${pick(r, METHODS)} ${pick(r, TARGETS)} ${pick(r, VERSIONS)}`
  let msg = `${line}\r\nHost: edge.test\r\n${headerLines(r)}${bodyPart(r)}`
  const shape = Math.floor(r() * 6)
  if (shape === 0) msg = msg.slice(0, Math.floor(r() * msg.length)) // truncated mid-request
  if (shape === 1) msg += 'GET /small HTTP/1.1\r\nHost: edge.test\r\n\r\n'.repeat(1 + Math.floor(r() * 5)) // pipelined
  if (shape === 2) msg = junk(r, 1 + Math.floor(r() * 200))
  return { data: [msg], endAfterWrite: shape === 3 }
}

let origin: HttpOrigin
let edge: EdgeChild
let hostile: RawOrigin
let hostileEdge: EdgeChild
const held: Socket[] = []

/** What the hostile origin answers for /h/<kind>/...: each a way to break a parser. */
const HOSTILE: Record<string, (s: Socket) => void> = {
  'garbage-status': s => s.end('HTTP/1.1 abc OK\r\n\r\n'),
  'no-http': s => s.end('FOO BAR\r\n\r\n'),
  'bad-version': s => s.end('HTTP/9.9 200 OK\r\nContent-Length: 2\r\n\r\nhi'),
  'invalid-header': s => s.end('HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 2\r\n\r\nhi'),
  'nul-header': s => s.end('HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nhi'),
  truncated: s =>
    s.end('HTTP/1.1 200 OK\r\nCache-Control: public, max-age=60\r\nContent-Length: 1000\r\n\r\nonly this'),
  'too-long': s =>
    s.end('HTTP/1.1 200 OK\r\nCache-Control: public, max-age=60\r\nContent-Length: 2\r\n\r\nway more than two bytes'),
  'two-lengths': s => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello'),
  'bad-chunked': s =>
    s.end(
      'HTTP/1.1 200 OK\r\nCache-Control: public, max-age=60\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n'
    ),
  'cut-chunked': s =>
    s.end('HTTP/1.1 200 OK\r\nCache-Control: public, max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nhi'),
  'cl-and-te': s => s.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
  'early-hints-flood': s =>
    s.end(
      'HTTP/1.1 103 Early Hints\r\nLink: </x.css>; rel=preload\r\n\r\n'.repeat(2000) +
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'
    ),
  'huge-header': s => s.end(`HTTP/1.1 200 OK\r\nX-Huge: ${'h'.repeat(1024 * 1024)}\r\nContent-Length: 2\r\n\r\nhi`),
  'close-mid-header': s => {
    s.write('HTTP/1.1 200 OK\r\nContent-Le')
    s.destroy()
  },
  'close-mid-body': s => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc')
    s.destroy()
  },
  silent: s => s.end(),
  'bare-lf': s => s.end('HTTP/1.1 200 OK\nContent-Length: 2\n\nhi'),
  'space-before-colon': s => s.end('HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nhi'),
  'negative-length': s => s.end('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhi'),
  'status-999': s => s.end('HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\nhi'),
  'status-101': s => s.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: upgrade\r\n\r\nraw bytes')
}

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) => {
    if (serveSmall(req, res)) return
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=60' })
    res.end('ok')
  })
  edge = await mustStart(origin.url, ['--origin-timeout-ms', '2000'])
  hostile = await startRawOrigin((socket, head) => {
    const target = head.split(' ')[1] ?? '/'
    if (target === '/small') {
      socket.write(
        `HTTP/1.1 200 OK\r\n${Object.entries(SMALL_HEADERS)
          .map(([k, v]) => `${k}: ${v}`)
          .join('\r\n')}\r\n\r\n`
      )
      socket.write(SMALL)
      return
    }
    if (target.startsWith('/hints')) {
      socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n')
      // The final answer comes a moment later, as a real origin's would.
      setTimeout(
        () =>
          socket.end(
            'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: public, max-age=60\r\nContent-Length: 5\r\n\r\nhello'
          ),
        50
      )
      return
    }
    const kind = target.split('/')[2] ?? ''
    const answer = HOSTILE[kind]
    if (answer === undefined) socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n')
    else answer(socket)
  })
  hostileEdge = await mustStart(hostile.url, ['--origin-timeout-ms', '2000'])
})

afterAll(async () => {
  for (const s of held) s.destroy()
  await edge.stop()
  await hostileEdge.stop()
  await hostile.close()
  await origin.close()
})

describe('fuzz', () => {
  it(`${CLIENT_CASES} hostile client requests (seed ${SEED}), in batches`, async () => {
    const r = prng(SEED)
    const cases = Array.from({ length: CLIENT_CASES }, () => clientCase(r))
    let batches = 0
    let firstDeath: number | undefined
    for (let from = 0; from < cases.length && edge.alive(); from += BATCH) {
      await bounded(Math.min(BATCH, cases.length - from), 48, async i => {
        const c = cases[from + i]
        if (c === undefined) return
        await raw(edge.port, c.data, { idleMs: 100, timeoutMs: 1500, endAfterWrite: c.endAfterWrite })
      })
      batches++
      // Settle: a crash lands as an exit a moment after the request that caused it.
      const ok = await request(edge.url + '/small').then(
        v => v.status === 200 && v.body.equals(SMALL),
        () => false
      )
      if (!ok || !edge.alive()) {
        firstDeath = from
        break
      }
    }
    record('fuzz: hostile clients', {
      seed: SEED,
      cases: CLIENT_CASES,
      batches,
      alive: edge.alive(),
      diedInBatchFrom: firstDeath,
      suspicious: edge.suspicious.slice(0, 5)
    })
    await expectVictim(edge, '/small', SMALL)
    expect(edge.suspicious).toEqual([])
  }, 90_000)

  it('a hostile origin: garbage status lines, bad headers and framing, 1xx floods, huge headers, early closes', async () => {
    const outcomes: Record<string, string> = {}
    for (const [round, kind] of Object.keys(HOSTILE).flatMap(k => [0, 1, 2].map(n => [n, k] as const))) {
      try {
        const res = await request(`${hostileEdge.url}/h/${kind}/${round}`, { timeoutMs: 5000 })
        outcomes[kind] = `${res.status} ${res.body.length}B`
      } catch (err) {
        outcomes[kind] = `client error: ${String(err).slice(0, 60)}`
      }
      if (!hostileEdge.alive()) {
        outcomes[kind] += ' (edge died)'
        break
      }
    }
    record('fuzz: hostile origin', {
      outcomes,
      alive: hostileEdge.alive(),
      suspicious: hostileEdge.suspicious.slice(0, 5)
    })
    await expectVictim(hostileEdge, '/small', SMALL)
    // Garbage from the origin is never stored: a broken answer is not replayed as a hit.
    const again = await request(`${hostileEdge.url}/h/truncated/0`, { timeoutMs: 5000 }).catch(() => undefined)
    expect(again?.headers['x-cache']).not.toBe('HIT')
    expect(hostileEdge.suspicious).toEqual([])
  }, 90_000)

  it('1xx interim responses are forwarded to the client and never cached', async () => {
    const first = (
      await raw(hostileEdge.port, 'GET /hints HTTP/1.1\r\nHost: edge.test\r\nConnection: close\r\n\r\n', {
        idleMs: 1000,
        timeoutMs: 4000
      })
    ).toString('latin1')
    const second = await request(`${hostileEdge.url}/hints`)
    const at103 = first.indexOf('HTTP/1.1 103')
    const at200 = first.indexOf('HTTP/1.1 200')
    record('fuzz: 103 Early Hints', {
      firstSaw103: at103 !== -1,
      order:
        at103 !== -1 && at200 !== -1
          ? at103 < at200
            ? '103 before 200'
            : '200 before 103'
          : `103 at ${at103}, 200 at ${at200}`,
      second: `${second.status} ${String(second.headers['x-cache'])} ${second.body.toString()}`
    })
    expect(at103).not.toBe(-1)
    expect(first.slice(at103, first.indexOf('\r\n\r\n', at103))).toMatch(/link: <\/style\.css>; rel=preload/i)
    expect(at200).toBeGreaterThan(at103)
    expect(first.endsWith('hello')).toBe(true)
    expect(second.status).toBe(200)
    expect(second.headers['x-cache']).toBe('HIT')
    expect(second.body.toString()).toBe('hello')
    await expectVictim(hostileEdge, '/small', SMALL)
  })
})
