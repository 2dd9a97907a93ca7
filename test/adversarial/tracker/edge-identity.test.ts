/**
 * Per-edge identity on the tracker, attacked with raw WebSocket clients while two real
 * edges (A and B, each with its own id and secret from the tracker's edges file) stay
 * registered: a URL not listed for the id, a second socket for a live id or URL, a forged
 * secret, a public URL that does not answer the challenge (nothing there, a wrong
 * answer, a slow or huge answer), too many challenges at once, and 50 registrations with
 * the old shared token. After every attack, A and B are still the only edges listed.
 */
import { createHash } from 'node:crypto'
import http from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createEdge } from '../../../edge/src/index.js'
import type { Edge } from '../../../edge/src/index.js'
import { createTracker } from '../../../tracker/src/index.js'
import type { Tracker } from '../../../tracker/src/index.js'
import { startOrigin } from '../../helpers/origin.js'
import { freePort } from '../../helpers/ports.js'
import type { TestOrigin } from '../../helpers/origin.js'
import { connectRaw, getJson, isFailure } from '../../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../../helpers/tracker-client.js'

const CHALLENGE_TIMEOUT_MS = 1000
const SECRET_A = 'secret-of-edge-a-0123456789'
const SECRET_B = 'secret-of-edge-b-0123456789'
const SECRET_X = 'secret-of-the-others-012345'
const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex')
const isRegistered = (msg: Json): boolean => msg.action === 'p2pcdn:edge-registered'

/** A port free now and not in `taken` (to which it is added). */
async function freePortNotIn(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (!taken.has(port)) {
      taken.add(port)
      return port
    }
  }
}

interface ChallengeServer {
  url: string
  /** Connections the tracker opened, and how many of them are closed by now. */
  opened: number
  closed: number
  /** Body bytes this server managed to write. */
  written: number
  /** Resolves when every connection opened so far has closed. */
  allClosed: () => Promise<void>
  close: () => Promise<void>
}

/** A stand-in for an edge's public URL that answers the challenge its own (wrong) way. */
async function startChallengeServer(
  handler: (req: IncomingMessage, res: ServerResponse, s: ChallengeServer) => void
): Promise<ChallengeServer> {
  const sockets = new Set<net.Socket>()
  const waiters: Array<() => void> = []
  const state: ChallengeServer = {
    url: '',
    opened: 0,
    closed: 0,
    written: 0,
    allClosed: async () => {
      if (state.closed === state.opened) return
      await new Promise<void>(resolve => waiters.push(resolve))
    },
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise(resolve => server.close(resolve))
    }
  }
  const server: Server = http.createServer((req, res) => handler(req, res, state))
  server.on('connection', socket => {
    state.opened++
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      state.closed++
      if (state.closed === state.opened) for (const resolve of waiters.splice(0)) resolve()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return state
}

let origin: TestOrigin
let tracker: Tracker
let edgeA: Edge
let edgeB: Edge
let urlA: string
let spareUrlA: string
let urlB: string
let deadUrl: string
const servers: Record<
  'wrong' | 'otherEdge' | 'silent' | 'trickle' | 'huge' | 'declared' | 'slow1' | 'slow2' | 'slow3',
  ChallengeServer
> = {} as never
const clients: RawTrackerClient[] = []

async function connect(): Promise<RawTrackerClient> {
  const client = await connectRaw(tracker.url)
  clients.push(client)
  return client
}

async function listedUrls(): Promise<string[]> {
  const { body } = await getJson(`${tracker.httpUrl}/edges`)
  return (body as { edges: Json[] }).edges.map(e => e.url as string).sort()
}

/** Send one registration on a fresh socket and return the tracker's reply. */
async function register(fields: Json, timeoutMs = 4000): Promise<Json> {
  const client = await connect()
  client.send({ action: 'p2pcdn:edge-register', v: 1, region: 'eu', capacity: 1, ...fields })
  return await client.next(msg => isFailure(msg) || isRegistered(msg), timeoutMs)
}

function expectRefused(reply: Json, reason: RegExp): void {
  expect(reply).toMatchObject({ code: 'ERR_PROTOCOL', action: 'p2pcdn:edge-register' })
  expect(reply['failure reason']).toMatch(reason)
}

beforeAll(async () => {
  origin = await startOrigin({ '/a.txt': { body: 'hello', headers: { 'cache-control': 'max-age=60' } } })
  servers.wrong = await startChallengeServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ v: 1, id: 'wrong', mac: 'A'.repeat(43) }))
  })
  // A rogue server that relays every request to the real edge B and B's answer back.
  servers.otherEdge = await startChallengeServer((req, res) => {
    fetch(`${urlB}${req.url ?? '/'}`).then(
      async upstream => {
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' })
        res.end(Buffer.from(await upstream.arrayBuffer()))
      },
      () => res.destroy()
    )
  })
  servers.silent = await startChallengeServer(() => {
    /* never answers */
  })
  servers.trickle = await startChallengeServer((_req, res, s) => {
    // Headers at once, then a byte every 100 ms: each gap is far under any idle timeout.
    res.writeHead(200, { 'content-type': 'application/json' })
    const timer = setInterval(() => {
      res.write(' ')
      s.written++
    }, 100)
    res.once('close', () => clearInterval(timer))
  })
  servers.huge = await startChallengeServer((_req, res, s) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    const block = Buffer.alloc(64 * 1024, 0x20)
    const pump = (): void => {
      while (!res.destroyed && res.write(block)) s.written += block.length
      if (!res.destroyed)
        res.once('drain', () => {
          s.written += block.length
          pump()
        })
    }
    pump()
  })
  servers.declared = await startChallengeServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100 * 1024 * 1024) })
    res.write('{')
  })
  for (const name of ['slow1', 'slow2', 'slow3'] as const) servers[name] = await startChallengeServer(() => {})
  // Ports for edges started later and one left dead: none may be a port taken meanwhile (a
  // closed port can come back from listen(0)), or two ids would list one URL.
  const taken = new Set(Object.values(servers).map(c => Number(new URL(c.url).port)))
  const [portA, portB, spareA, dead] = [
    await freePortNotIn(taken),
    await freePortNotIn(taken),
    await freePortNotIn(taken),
    await freePortNotIn(taken)
  ]
  urlA = `http://127.0.0.1:${portA}`
  urlB = `http://127.0.0.1:${portB}`
  spareUrlA = `http://127.0.0.1:${spareA}`
  deadUrl = `http://127.0.0.1:${dead}`

  tracker = createTracker({
    port: 0,
    edgeChallengeTimeoutMs: CHALLENGE_TIMEOUT_MS,
    maxConcurrentEdgeChallenges: 2,
    edges: [
      { id: 'a', urls: [urlA, spareUrlA], secretSha256: sha256(SECRET_A) },
      { id: 'b', urls: [`${urlB}/`], secretSha256: sha256(SECRET_B) },
      { id: 'dead', urls: [deadUrl], secret: SECRET_X },
      { id: 'wrong', urls: [servers.wrong.url], secret: SECRET_X },
      { id: 'silent', urls: [servers.silent.url], secret: SECRET_X },
      { id: 'trickle', urls: [servers.trickle.url], secret: SECRET_X },
      { id: 'huge', urls: [servers.huge.url], secret: SECRET_X },
      { id: 'declared', urls: [servers.declared.url], secret: SECRET_X },
      { id: 'slow1', urls: [servers.slow1.url], secret: SECRET_X },
      { id: 'slow2', urls: [servers.slow2.url], secret: SECRET_X },
      { id: 'slow3', urls: [servers.slow3.url], secret: SECRET_X },
      // Its URL relays to edge B: B answers as B, keyed with B's secret.
      { id: 'impostor', urls: [servers.otherEdge.url], secret: SECRET_X }
    ]
  })
  await tracker.start()
  edgeA = createEdge({
    origin: origin.url,
    port: portA,
    region: 'eu',
    tracker: tracker.url,
    edgeId: 'a',
    edgeSecret: SECRET_A
  })
  edgeB = createEdge({
    origin: origin.url,
    port: portB,
    region: 'us',
    tracker: tracker.url,
    edgeId: 'b',
    edgeSecret: SECRET_B
  })
  await Promise.all([edgeA.start(), edgeB.start()])
  // Bounded: the edges register on their first connect (challenge included).
  for (let i = 0; i < 200 && (await listedUrls()).length < 2; i++) await new Promise(resolve => setTimeout(resolve, 25))
  expect(await listedUrls()).toEqual([urlA, urlB].sort())
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map(async c => await c.close()))
  // The legitimate edges are listed throughout.
  expect(await listedUrls()).toEqual([urlA, urlB].sort())
})

afterAll(async () => {
  await Promise.all([edgeA?.stop(), edgeB?.stop()])
  await tracker?.stop()
  for (const server of Object.values(servers)) await server.close()
  await origin?.close()
})

describe('edge identity: URLs', () => {
  it('refuses a URL not listed for the id, and lists nothing for it', async () => {
    for (const url of ['http://evil.example', urlB, `${urlA}/elsewhere`, 'https://127.0.0.1:' + new URL(urlA).port]) {
      expectRefused(await register({ id: 'a', token: SECRET_A, url }), /is not listed for edge "a"/)
    }
    expect(await listedUrls()).toEqual([urlA, urlB].sort())
  })

  it('answers the challenge at a real edge, keyed with its own secret', async () => {
    const res = await fetch(`${urlA}/_p2pcdn/challenge?nonce=${'n'.repeat(43)}`)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.json()).toMatchObject({ v: 1, id: 'a', mac: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) })
    expect((await fetch(`${urlA}/_p2pcdn/challenge?nonce=short`)).status).toBe(400)
  })
})

describe('edge identity: no eviction', () => {
  it('a second socket with the valid secret for A neither evicts A nor adds A again', async () => {
    // Same URL as the live A.
    expectRefused(await register({ id: 'a', token: SECRET_A, url: urlA }), /already registered/)
    // A's other listed URL: the id is live on one connection, the cap.
    expectRefused(await register({ id: 'a', token: SECRET_A, url: spareUrlA }), /edge "a" is already registered/)
    // A's URL with the shared-token mode's lack of id is refused too (no token configured).
    expectRefused(await register({ token: SECRET_A, url: urlA }), /register with an edge id/)
    expect(await listedUrls()).toEqual([urlA, urlB].sort())
  })
})

describe('edge identity: secrets', () => {
  it('refuses a forged secret and an unknown id with one reply', async () => {
    for (const [id, token] of [
      ['a', SECRET_B],
      ['a', `${SECRET_A}x`],
      ['a', SECRET_A.slice(0, -1)],
      ['nobody', SECRET_A]
    ]) {
      expectRefused(await register({ id, token, url: urlA }), /unknown edge id or wrong secret/)
    }
  })

  it('refuses 50 registrations with the shared token in file mode', async () => {
    const replies = await Promise.all(
      Array.from(
        { length: 50 },
        async (_, i) => await register({ token: 'the-old-shared-token', url: `http://fake${i}.example` })
      )
    )
    for (const reply of replies) expectRefused(reply, /register with an edge id/)
    expect(await listedUrls()).toEqual([urlA, urlB].sort())
  })
})

describe('edge identity: reachability challenge', () => {
  it('does not list an edge with nothing listening at its URL', async () => {
    expectRefused(await register({ id: 'dead', token: SECRET_X, url: deadUrl }), /challenge failed: .* did not answer/)
  })

  it('does not list an edge whose URL answers with a wrong MAC, or is another edge', async () => {
    expectRefused(await register({ id: 'wrong', token: SECRET_X, url: servers.wrong.url }), /challenge failed/)
    // B answers at that URL, as B: not the impostor's id, nor its key.
    expectRefused(
      await register({ id: 'impostor', token: SECRET_X, url: servers.otherEdge.url }),
      /challenge failed: the edge at .* is not "impostor"/
    )
  })

  it('cuts off a URL that never answers, or drips its answer, at the deadline', async () => {
    for (const [name, server] of [
      ['silent', servers.silent],
      ['trickle', servers.trickle]
    ] as const) {
      const started = Date.now()
      expectRefused(
        await register({ id: name, token: SECRET_X, url: server.url }),
        /challenge failed: .* \(timed out\)/
      )
      const took = Date.now() - started
      expect(took).toBeGreaterThanOrEqual(CHALLENGE_TIMEOUT_MS - 50)
      expect(took).toBeLessThan(CHALLENGE_TIMEOUT_MS + 1500)
      // The tracker hung up: nothing of it stays open at the slow server.
      await server.allClosed()
      expect(server.opened).toBe(1)
    }
    expect(servers.trickle.written).toBeLessThan(CHALLENGE_TIMEOUT_MS / 100 + 5)
  })

  it('cuts off a huge answer after its first KiB, declared or not', async () => {
    expectRefused(await register({ id: 'huge', token: SECRET_X, url: servers.huge.url }), /more than 1024 bytes/)
    await servers.huge.allClosed()
    // What the sockets' buffers took before the tracker hung up; never the stream.
    expect(servers.huge.written).toBeLessThan(16 * 1024 * 1024)
    expectRefused(
      await register({ id: 'declared', token: SECRET_X, url: servers.declared.url }),
      /more than 1024 bytes/
    )
    await servers.declared.allClosed()
  })

  it('bounds the challenges in flight: beyond the cap, registrations are refused at once', async () => {
    const first = register({ id: 'slow1', token: SECRET_X, url: servers.slow1.url })
    const second = register({ id: 'slow2', token: SECRET_X, url: servers.slow2.url })
    // Both challenges have reached their servers: the cap (2) is full.
    for (let i = 0; i < 200 && servers.slow1.opened + servers.slow2.opened < 2; i++)
      await new Promise(resolve => setTimeout(resolve, 10))
    const started = Date.now()
    expectRefused(
      await register({ id: 'slow3', token: SECRET_X, url: servers.slow3.url }),
      /too many edge registrations in progress/
    )
    expect(Date.now() - started).toBeLessThan(CHALLENGE_TIMEOUT_MS / 2)
    expect(servers.slow3.opened).toBe(0)
    expectRefused(await first, /timed out/)
    expectRefused(await second, /timed out/)
  })
})
