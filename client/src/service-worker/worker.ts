/**
 * The service worker (`dist/p2pcdn-sw.js`). A worker cannot hold WebRTC connections, so
 * it hands each request its rules pick to a page running the SDK and streams that page's
 * answer back one pull at a time; whenever no page answers, the page goes away or the SDK
 * fails, the rest comes from the network. It serves no byte it did not get from a page
 * or the network, and never more or other bytes than the response announced.
 */
import { KEEPALIVE_MS, RELAY_VERSION, parsePageMessage, type PortReply, type WorkerMessage } from './messages.js'
import { RelayPort } from './relay-port.js'
import { intercepts, parseRules, type WorkerRules } from './rules.js'
import type { FetchEvent, WorkerScope } from './worker-scope.js'

declare const self: WorkerScope

/** A page that has said nothing for this long is not asked (it says hello every KEEPALIVE_MS). */
const SERVER_STALE_MS = 3 * KEEPALIVE_MS
/**
 * How often a relay waiting on a page asks it whether it is still there (see RelayPort):
 * a page is given up after three pings unanswered, so a main thread busy for a second
 * on a loaded machine is not taken for a closed tab (a closing tab says bye at once).
 */
const LIVENESS_MS = 1000
/** A page alive but silent this long while a reply is due is given up on. */
const STALL_MS = 20_000
/** A page whose SDK runs says `accepted` at once; one that does not within this is busy or broken. */
const ACCEPT_MS = 1000
/** A page that has just loaded may not have said hello yet: its first requests wait this long for one. */
const HELLO_WAIT_MS = 1000
const NEW_CLIENT_MS = 3000
/** URLs the SDK said are not for it (no manifest: private, not cacheable) go straight to the network. */
const PASS_MS = 60_000
/** A response resumes from another source at most this many times before it fails. */
const MAX_RESUMES = 3
const MAX_SERVERS = 64
const MAX_CLIENTS_SEEN = 256
const MAX_PASSES = 1024
const SINGLE_RANGE = /^bytes=(\d+-\d*|-\d+)$/

let rules: WorkerRules
try {
  rules = parseRules(self.P2PCDN_RULES)
} catch (err) {
  // A broken rule must not take the site down: the worker then intercepts nothing.
  console.error(`p2pcdn service worker: ${(err as Error).message}; serving everything from the network`)
  rules = { include: [], exclude: ['/'] }
}

/** Pages running the SDK: client id -> when they last said hello. */
const servers = new Map<string, number>()
const helloWaiters = new Set<() => void>()
const departures = new Map<string, Set<(reason: Error) => void>>()
const clientsSeen = new Map<string, number>()
const passes = new Map<string, number>()

/** Insert into a map kept at `max` entries, the oldest dropped first. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value!)
}

self.addEventListener('install', event => {
  // Pages and worker speak a versioned protocol and anything unanswered goes to the
  // network, so a new worker may take over open pages at once.
  event.waitUntil(self.skipWaiting())
})

self.addEventListener('activate', event => {
  event.waitUntil(self.clients.claim())
})

self.addEventListener('message', event => {
  const message = parsePageMessage(event.data)
  const source = event.source
  if (message === undefined || source === null || !('id' in source) || typeof source.id !== 'string') return
  if (message.type === 'hello') {
    remember(servers, source.id, Date.now(), MAX_SERVERS)
    for (const wake of helloWaiters) wake()
  } else {
    servers.delete(source.id)
    for (const leave of departures.get(source.id) ?? []) leave(new Error('the serving page left'))
  }
})

self.addEventListener('fetch', event => {
  const request = event.request
  if (!intercepts(request, self.location.origin, rules)) return
  const passUntil = passes.get(request.url)
  if (passUntil !== undefined && passUntil > Date.now()) return
  event.respondWith(respond(event))
})

async function respond(event: FetchEvent): Promise<Response> {
  const request = event.request
  const range = request.headers.get('Range')
  // Several ranges, or another unit: the SDK answers single byte ranges only.
  if (range !== null && !SINGLE_RANGE.test(range.replace(/\s+/g, ''))) return await fetch(request)
  const opened = await openFromPages(request.url, range, event.clientId || event.resultingClientId, new Set())
  if (opened === 'pass') {
    remember(passes, request.url, Date.now() + PASS_MS, MAX_PASSES)
    return await fetch(request)
  }
  if (opened === undefined) return await fetch(request)
  return streamed(event, opened)
}

/** What a response announced: its bytes are `[start, end]` of the resource, `length` of them. */
interface Head {
  status: 200 | 206
  headers: Headers
  start: number
  end: number
  length: number
  etag: string | null
}

interface Upstream {
  /** The next bytes, or `undefined` at the end. */
  read(): Promise<Uint8Array | undefined>
  cancel(): void
}

interface Opened {
  head: Head
  upstream: Upstream
  server: string
}

/** The page to ask: the requesting page when it serves, else the one heard from last. */
async function serverFor(clientId: string, excluded: ReadonlySet<string>): Promise<string | undefined> {
  const now = Date.now()
  const candidates = [...servers]
    .filter(([id, seen]) => !excluded.has(id) && now - seen < SERVER_STALE_MS)
    .sort(([a, aSeen], [b, bSeen]) => Number(b === clientId) - Number(a === clientId) || bSeen - aSeen)
  for (const [id] of candidates) {
    if ((await self.clients.get(id)) !== undefined) return id
    servers.delete(id)
  }
  return undefined
}

async function openFromPages(
  url: string,
  range: string | null,
  clientId: string,
  excluded: Set<string>
): Promise<Opened | 'pass' | undefined> {
  let server = await serverFor(clientId, excluded)
  if (server === undefined && clientId !== '' && excluded.size === 0) {
    // A page still loading has not said hello yet; after a restart the worker knows no
    // page at all until it asks.
    const firstSeen = clientsSeen.get(clientId) ?? Date.now()
    if (!clientsSeen.has(clientId)) remember(clientsSeen, clientId, firstSeen, MAX_CLIENTS_SEEN)
    if (servers.size === 0 || Date.now() - firstSeen < NEW_CLIENT_MS) {
      const ping: WorkerMessage = { p2pcdn: RELAY_VERSION, type: 'ping' }
      for (const client of await self.clients.matchAll({ type: 'window' })) client.postMessage(ping)
      await helloWithin(HELLO_WAIT_MS)
      server = await serverFor(clientId, excluded)
    }
  }
  // Two pages at most: one closing while asked hands over to the next.
  for (let attempt = 0; server !== undefined && attempt < 2; attempt++) {
    excluded.add(server)
    try {
      return await openRelay(server, url, range)
    } catch (err) {
      if (err instanceof Pass) return 'pass'
      server = await serverFor(clientId, excluded)
    }
  }
  return undefined
}

async function helloWithin(ms: number): Promise<void> {
  let wake = (): void => {}
  const heard = new Promise<void>(resolve => (wake = resolve))
  helloWaiters.add(wake)
  const timer = setTimeout(wake, ms)
  await heard
  clearTimeout(timer)
  helloWaiters.delete(wake)
}

/** The SDK said this URL is not for it. */
class Pass extends Error {}

async function openRelay(server: string, url: string, range: string | null): Promise<Opened> {
  const client = await self.clients.get(server)
  if (client === undefined) throw new Error('the serving page is gone')
  const channel = new MessageChannel()
  const relay = new RelayPort(channel.port1, { livenessMs: LIVENESS_MS, stallMs: STALL_MS })
  // The page saying bye ends the exchange at once.
  let leaving = departures.get(server)
  if (leaving === undefined) departures.set(server, (leaving = new Set()))
  const leave = (reason: Error): void => {
    relay.fail(reason)
  }
  leaving.add(leave)
  relay.onClose = () => {
    leaving.delete(leave)
    if (leaving.size === 0) departures.delete(server)
  }
  client.postMessage({ p2pcdn: RELAY_VERSION, type: 'request', url, range } satisfies WorkerMessage, [channel.port2])
  let answer: PortReply
  try {
    const accepted = await relay.reply(ACCEPT_MS)
    if (accepted.type !== 'accepted') throw new Error(`unexpected ${accepted.type} before accepted`)
    answer = await relay.reply()
  } catch (err) {
    relay.close()
    throw err
  }
  if (answer.type === 'fallback') {
    relay.close()
    throw new Pass(answer.reason)
  }
  const head = answer.type === 'head' ? headOf(answer.status, answer.headers) : undefined
  if (head === undefined) {
    relay.close()
    throw new Error(answer.type === 'error' ? answer.reason : `unexpected ${answer.type} before the head`)
  }
  const read = async (): Promise<Uint8Array | undefined> => {
    relay.ask({ type: 'pull' })
    const reply = await relay.reply()
    if (reply.type === 'chunk') return new Uint8Array(reply.bytes)
    if (reply.type === 'end') return undefined
    throw new Error(reply.type === 'error' ? reply.reason : `unexpected ${reply.type}`)
  }
  // The first bytes are in before the browser gets the head: a page that fails this early
  // costs the request nothing but the network's copy.
  let first: Uint8Array | undefined
  try {
    first = head.length === 0 ? undefined : await read()
  } catch (err) {
    relay.close()
    throw err
  }
  const upstream: Upstream = {
    read: async () => {
      if (first === undefined) return await read()
      const bytes = first
      first = undefined
      return bytes
    },
    cancel: () => relay.close()
  }
  return { head, upstream, server }
}

/** The byte span a status and its headers announce, or `undefined` when they do not add up. */
function headOf(status: 200 | 206, pairs: Array<[string, string]>): Head | undefined {
  const headers = new Headers(pairs)
  const lengthHeader = headers.get('Content-Length')
  if (lengthHeader === null || !/^\d+$/.test(lengthHeader)) return undefined
  const length = Number(lengthHeader)
  let start = 0
  if (status === 206) {
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headers.get('Content-Range') ?? '')
    if (m === null || Number(m[2]) - Number(m[1]) + 1 !== length || Number(m[2]) >= Number(m[3])) return undefined
    start = Number(m[1])
  }
  return { status, headers, start, end: start + length - 1, length, etag: headers.get('ETag') }
}

/**
 * The browser's response: the first page's bytes as they are pulled, then, should that
 * page fail, the rest from another page or the network, checked to be the same bytes
 * of the same version.
 */
function streamed(event: FetchEvent, opened: Opened): Response {
  const { head } = opened
  const url = event.request.url
  let upstream = opened.upstream
  const tried = new Set([opened.server])
  let delivered = 0
  let resumes = 0
  let finish = (): void => {}
  // Keeps the worker alive while the body streams.
  event.waitUntil(new Promise<void>(resolve => (finish = resolve)))
  const abort = new AbortController()
  const done = (): void => {
    upstream.cancel()
    abort.abort()
    finish()
  }
  if (head.length === 0) done()
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          try {
            const bytes = await upstream.read()
            if (bytes === undefined) throw new Error(`the answer ended after ${delivered} of ${head.length} bytes`)
            const piece = bytes.subarray(0, head.length - delivered)
            delivered += piece.length
            if (piece.length > 0) controller.enqueue(piece)
            if (delivered === head.length) {
              controller.close()
              done()
            }
            return
          } catch (err) {
            upstream.cancel()
            if (++resumes > MAX_RESUMES) {
              controller.error(err)
              done()
              return
            }
            try {
              upstream = await resume(url, head, head.start + delivered, event.clientId, tried, abort.signal)
            } catch (resumeErr) {
              controller.error(resumeErr)
              done()
              return
            }
          }
        }
      },
      cancel() {
        done()
      }
    },
    { highWaterMark: 0 }
  )
  return new Response(head.length === 0 ? null : body, { status: head.status, headers: head.headers })
}

/** Bytes `[from, head.end]` from another serving page, else the network. */
async function resume(
  url: string,
  head: Head,
  from: number,
  clientId: string,
  tried: Set<string>,
  signal: AbortSignal
): Promise<Upstream> {
  const range = `bytes=${from}-${head.end}`
  const opened = await openFromPages(url, range, clientId, tried).catch(() => undefined)
  if (opened !== undefined && opened !== 'pass') {
    if (opened.head.start === from && opened.head.end === head.end && opened.head.etag === head.etag)
      return opened.upstream
    opened.upstream.cancel()
  }
  const res = await fetch(url, { headers: { Range: range }, mode: 'same-origin', credentials: 'same-origin', signal })
  const etag = res.headers.get('ETag')
  if (head.etag !== null && etag !== null && etag !== head.etag) {
    await res.body?.cancel()
    throw new Error(`${url} changed while it was read`)
  }
  let skip = 0
  if (res.status === 200) skip = from
  else if (res.status !== 206 || !res.headers.get('Content-Range')?.startsWith(`bytes ${from}-`)) {
    await res.body?.cancel()
    throw new Error(`${url}: the network answered ${res.status} to ${range}`)
  }
  const reader = res.body!.getReader()
  return {
    read: async () => {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return undefined
        if (skip < value.length) {
          const bytes = value.subarray(skip)
          skip = 0
          return bytes
        }
        skip -= value.length
      }
    },
    cancel: () => void reader.cancel().catch(() => {})
  }
}
