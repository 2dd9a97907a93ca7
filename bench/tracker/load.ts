/**
 * The load generator, in its own process so that it never shares a core's event loop with
 * the server it measures. Holds N WebSocket peers, each with prebuilt announce strings,
 * and runs what run.ts asks over IPC. Every loop is bounded in time and in count.
 */
import { randomBytes } from 'node:crypto'
import { openRawSocket, textFrame } from './raw-socket.js'
import type { RawSocket } from './raw-socket.js'
import type { LoadCommand, LoadReply } from './messages.js'

/** SDP-sized filler: about 600 bytes, as a real offer without trickle. */
const SDP =
  `v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\na=msid-semantic: WMS\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n${'a=candidate:1 1 udp 2122260223 192.168.1.2 54321 typ host generation 0\r\n'.repeat(6)}a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 ${'AB:'.repeat(31)}AB\r\na=setup:actpass\r\na=mid:0\r\na=sctp-port:5000\r\n`.slice(
    0,
    600
  )
const OFFERS_PER_ANNOUNCE = 5
/** Connections opened at once while connecting. */
const CONNECT_BATCH = 250
/** A reply this much later than the loop's end is not waited for. */
const DRAIN_MS = 3000

const id = (): string => randomBytes(20).toString('latin1')
/** 16 swarm pairs and one big swarm, the same in every process of a run. */
const sixteenA = Array.from({ length: 16 }, (_, i) => `bench-swarm-a-${String(i).padStart(6, '0')}`)
const sixteenB = Array.from({ length: 16 }, (_, i) => `bench-swarm-b-${String(i).padStart(6, '0')}`)
const big = 'bench-one-big-swarm!'

interface Peer {
  ws: RawSocket
  peerId: string
  /** Which of its swarms the next announce goes to. */
  turn: number
  busy: boolean
  sentAt: number
  /** Pre-encoded, so the generator does not spend its CPU on UTF-8 encoding. */
  messages: Record<'sixteen' | 'one', { plain: Buffer[]; offers: Buffer[]; started: Buffer[] }>
}

const peers: Peer[] = []
let onReply: (peer: Peer) => void = () => {}
let onFailure: (peer: Peer) => void = () => {}

function announce(
  infoHash: string,
  peerId: string,
  event: string,
  offers: boolean,
  count = OFFERS_PER_ANNOUNCE
): Buffer {
  const msg: Record<string, unknown> = {
    action: 'announce',
    info_hash: infoHash,
    peer_id: peerId,
    event,
    numwant: offers ? count : 0,
    uploaded: 0,
    downloaded: 0,
    left: 1000
  }
  if (offers) msg.offers = Array.from({ length: count }, () => ({ offer: { type: 'offer', sdp: SDP }, offer_id: id() }))
  return textFrame(Buffer.from(JSON.stringify(msg)))
}

async function makePeer(url: string, i: number): Promise<Peer> {
  const { hostname, port } = new URL(url)
  const peerId = id()
  const pair = [sixteenA[i % 16]!, sixteenB[i % 16]!]
  const messages: Peer['messages'] = {
    sixteen: {
      plain: pair.map(h => announce(h, peerId, 'update', false)),
      offers: pair.map(h => announce(h, peerId, 'update', true)),
      started: pair.map(h => announce(h, peerId, 'started', false))
    },
    one: {
      plain: [announce(big, peerId, 'update', false)],
      offers: [announce(big, peerId, 'update', true)],
      started: [announce(big, peerId, 'started', false)]
    }
  }
  const holder: { peer?: Peer } = {}
  let ws: RawSocket
  try {
    ws = await openRawSocket(hostname, Number(port), data => {
      // Forwarded offers are long; announce replies short. Checking bytes, not parsing,
      // keeps the generator cheap enough to saturate the server.
      const peer = holder.peer
      if (peer === undefined || data.length > 400) return
      if (data.includes('"failure reason"')) onFailure(peer)
      else if (data.includes('"interval"')) onReply(peer)
    })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EMFILE') {
      throw new Error(`EMFILE: too many open files at peer ${i}; raise the limit with \`ulimit -n ${2 * i + 1000}\``, {
        cause: err
      })
    }
    throw err
  }
  const peer: Peer = { ws, peerId, turn: 0, busy: false, sentAt: 0, messages }
  holder.peer = peer
  return peer
}

async function connect(urls: string[], count: number): Promise<void> {
  for (let i = 0; i < count; i += CONNECT_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, (_, k) =>
        makePeer(urls[(i + k) % urls.length]!, i + k)
      )
    )
    peers.push(...batch)
  }
}

/** Every peer sends every `started` of the layout, one at a time, and waits for the reply. */
async function join(layout: 'sixteen' | 'one'): Promise<LoadReply> {
  const begin = performance.now()
  let replies = 0
  let failures = 0
  await new Promise<void>(resolve => {
    let pending = peers.length
    const step = (peer: Peer): void => {
      const list = peer.messages[layout].started
      if (peer.turn < list.length) {
        peer.ws.send(list[peer.turn++]!)
        return
      }
      peer.turn = 0
      if (--pending === 0) resolve()
    }
    onReply = peer => {
      replies++
      step(peer)
    }
    onFailure = peer => {
      failures++
      step(peer)
    }
    for (const peer of peers) {
      peer.turn = 0
      step(peer)
    }
    setTimeout(resolve, 60_000).unref()
  })
  return { type: 'done', replies, failures, elapsedMs: performance.now() - begin }
}

/** Closed loop: each peer has one announce in flight and sends the next on its reply. */
async function closed(layout: 'sixteen' | 'one', offers: boolean, durationMs: number): Promise<LoadReply> {
  let running = true
  let replies = 0
  let failures = 0
  let inFlight = 0
  const send = (peer: Peer): void => {
    const list = offers ? peer.messages[layout].offers : peer.messages[layout].plain
    peer.turn = (peer.turn + 1) % list.length
    inFlight++
    peer.ws.send(list[peer.turn]!)
  }
  const settle = (peer: Peer, ok: boolean): void => {
    inFlight--
    if (!running) return
    if (ok) replies++
    else failures++
    send(peer)
  }
  onReply = peer => settle(peer, true)
  onFailure = peer => settle(peer, false)
  const begin = performance.now()
  for (const peer of peers) send(peer)
  await sleep(durationMs)
  running = false
  const elapsedMs = performance.now() - begin
  const drainUntil = Date.now() + DRAIN_MS
  while (inFlight > 0 && Date.now() < drainUntil) await sleep(20)
  return { type: 'done', replies, failures, elapsedMs }
}

/** Open loop: `ratePerSec` announces spread over idle peers, latency from send to reply. */
async function open(ratePerSec: number, durationMs: number): Promise<LoadReply> {
  const latenciesMs: number[] = []
  let failures = 0
  onReply = peer => {
    peer.busy = false
    latenciesMs.push(performance.now() - peer.sentAt)
  }
  onFailure = peer => {
    peer.busy = false
    failures++
  }
  const tickMs = 5
  const perTick = (ratePerSec * tickMs) / 1000
  let next = 0
  let owed = 0
  let sent = 0
  const begin = performance.now()
  const timer = setInterval(() => {
    owed += perTick
    // Catch up after a late tick, so the offered rate stays what was asked.
    const due = Math.floor(((performance.now() - begin) * ratePerSec) / 1000) - sent
    owed = Math.max(owed, due)
    for (; owed >= 1; owed--) {
      for (let tries = 0; tries < peers.length; tries++) {
        const peer = peers[next]!
        next = (next + 1) % peers.length
        if (peer.busy) continue
        peer.busy = true
        peer.sentAt = performance.now()
        peer.turn = (peer.turn + 1) % 2
        peer.ws.send(peer.messages.sixteen.plain[peer.turn]!)
        sent++
        break
      }
    }
  }, tickMs)
  await sleep(durationMs)
  clearInterval(timer)
  await sleep(500)
  return { type: 'done', replies: latenciesMs.length, failures, elapsedMs: performance.now() - begin, latenciesMs }
}

/**
 * A flood from one address: `sockets` raw sockets bound to `localAddress`, in `swarms`
 * swarms, each announcing with `offers` offers `ratePerSocket` times a second
 * (under the tracker's per-socket limit, so only a per-address budget can see it), for
 * `durationMs`. Counts what comes back by kind, then closes them all.
 */
async function flood(cmd: Extract<LoadCommand, { type: 'flood' }>): Promise<LoadReply> {
  const { hostname, port } = new URL(cmd.url)
  let replies = 0
  let warned = 0
  let failures = 0
  let sent = 0
  const onFrame = (data: Buffer): void => {
    if (data.length > 400) return
    if (data.includes('"failure reason"')) failures++
    else if (data.includes('"interval"')) {
      replies++
      if (data.includes('"warning message"')) warned++
    }
  }
  const sockets: Array<{ ws: RawSocket; started: Buffer; offers: Buffer }> = []
  for (let i = 0; i < cmd.sockets; i++) {
    const ws = await openRawSocket(hostname, Number(port), onFrame, cmd.localAddress)
    const infoHash = `bench-flood-${String(i % cmd.swarms).padStart(8, '0')}`
    const peerId = id()
    sockets.push({
      ws,
      started: announce(infoHash, peerId, 'started', false),
      offers: announce(infoHash, peerId, 'update', true, cmd.offers)
    })
  }
  for (const s of sockets) {
    s.ws.send(s.started)
    sent++
  }
  const begin = performance.now()
  const timer = setInterval(() => {
    for (const s of sockets) {
      s.ws.send(s.offers)
      sent++
    }
  }, 1000 / cmd.ratePerSocket)
  await sleep(cmd.durationMs)
  clearInterval(timer)
  const elapsedMs = performance.now() - begin
  await sleep(200)
  for (const s of sockets) s.ws.close()
  return { type: 'done', replies, failures, warned, sent, elapsedMs }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

async function run(cmd: LoadCommand): Promise<LoadReply> {
  switch (cmd.type) {
    case 'connect':
      await connect(cmd.urls ?? [cmd.url], cmd.peers)
      return { type: 'done', replies: peers.length, failures: 0, elapsedMs: 0 }
    case 'join':
      return await join(cmd.swarms)
    case 'closed':
      return await closed(cmd.swarms, cmd.offers, cmd.durationMs)
    case 'open':
      return await open(cmd.ratePerSec, cmd.durationMs)
    case 'flood':
      return await flood(cmd)
    case 'close':
      for (const peer of peers) peer.ws.close()
      peers.length = 0
      return { type: 'done', replies: 0, failures: 0, elapsedMs: 0 }
  }
}

process.on('message', (cmd: LoadCommand) => {
  run(cmd).then(
    reply => process.send!(reply),
    (err: unknown) => {
      process.send!({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies LoadReply)
    }
  )
})
