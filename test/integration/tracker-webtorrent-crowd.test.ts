/**
 * Busy seeders through our tracker, with production limits:
 *
 * - A page seeding 40 torrents with the real `bittorrent-tracker` client (what WebTorrent,
 *   p2p-media-loader and PeerTube use): its 40 clients share one socket (the client pools
 *   sockets by announce URL). Three leechers per torrent send it real WebRTC offers; the
 *   seeder answers all 120 through that one socket, 40 announces + 120 answers in a few
 *   seconds. Before the fix, the per-socket limit answered message 61 with a failure that
 *   had no `action`; the client took that for a broken tracker, closed the socket that all
 *   40 torrents shared and would have retried 10-310 s later.
 * - A seeder hit by 300 peers joining in 3 s. It is a raw socket that follows the
 *   client's rule (a message whose action is not announce or scrape closes the socket, as
 *   bittorrent-tracker's `_onSocketData` does); each joiner offers once and leaves once it
 *   has an answer. Before the fix the seeder's answers ran into the same limit.
 */
import { randomBytes } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import * as wrtc from 'webrtc-polyfill'
// @ts-expect-error -- bittorrent-tracker ships no type declarations
import { Client as UntypedClient } from 'bittorrent-tracker'
import { WebSocket } from 'ws'
import { createTracker } from '../../tracker/src/index.js'
import type { Tracker } from '../../tracker/src/index.js'
import { binaryId, fakeSdp } from '../helpers/tracker-client.js'
import type { Json } from '../helpers/tracker-client.js'

interface BtPeer extends EventEmitter {
  destroy: () => void
}
interface BtClient extends EventEmitter {
  start: () => void
  destroy: (cb?: (err?: Error | null) => void) => void
}
interface BtClientOptions {
  infoHash: string
  peerId: string
  announce: string[]
  port: number
  rtcConfig?: { iceServers: unknown[] }
  getAnnounceOpts?: () => Record<string, unknown>
}
const Client = UntypedClient as new (opts: BtClientOptions) => BtClient

interface OfferingPeerConnection {
  createDataChannel: (label: string) => unknown
  createOffer: () => Promise<{ sdp?: string }>
  close: () => void
}
const { RTCPeerConnection } = wrtc as unknown as {
  RTCPeerConnection: new (config: { iceServers: unknown[] }) => OfferingPeerConnection
}

const hex20 = (): string => randomBytes(20).toString('hex')
const hexToBinary = (hex: string): string => Buffer.from(hex, 'hex').toString('latin1')

let tracker: Tracker | undefined
const btClients: BtClient[] = []
const btPeers: BtPeer[] = []
const sockets: WebSocket[] = []

afterEach(async () => {
  for (const peer of btPeers.splice(0)) peer.destroy()
  await Promise.all(btClients.splice(0).map(async c => await new Promise<void>(resolve => c.destroy(() => resolve()))))
  for (const ws of sockets.splice(0)) ws.terminate()
  await tracker?.stop()
  tracker = undefined
})

/** A real offer SDP (no candidates: enough for the answering side to build its answer). */
async function realOfferSdp(): Promise<string> {
  const pc = new RTCPeerConnection({ iceServers: [] })
  pc.createDataChannel('probe')
  const offer = await pc.createOffer()
  pc.close()
  if (offer.sdp === undefined) throw new Error('no SDP from createOffer')
  return offer.sdp
}

/** A raw socket from `localAddress` that hands every parsed message to `onMessage`. */
async function rawSocket(
  url: string,
  localAddress: string,
  onMessage: (msg: Json, ws: WebSocket) => void
): Promise<WebSocket> {
  const ws = new WebSocket(url, { localAddress })
  sockets.push(ws)
  ws.on('error', () => {})
  ws.on('message', data => onMessage(JSON.parse(String(data)) as Json, ws))
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return ws
}

function send(ws: WebSocket, msg: Json): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg))
}

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

describe('busy seeders', () => {
  it('a bittorrent-tracker page seeding 40 torrents through one socket answers every leecher and keeps its socket', async () => {
    tracker = createTracker({ port: 0 })
    await tracker.start()
    const url = tracker.url
    const TORRENTS = 40
    // Three per torrent: 40 announces + 120 answers, more than the per-socket budget
    // (60 back to back + 20/s) covers however the answers spread over the ICE timeouts.
    const LEECHERS_PER_TORRENT = 3
    const seederPeerId = hex20()
    const hashes = Array.from({ length: TORRENTS }, hex20)
    const warnings: string[] = []
    const updated = new Set<string>()
    for (const infoHash of hashes) {
      // No offers of its own (numwant 0) and complete (left 0): a page that only seeds.
      const client = new Client({
        infoHash,
        peerId: seederPeerId,
        announce: [url],
        port: 6881,
        rtcConfig: { iceServers: [] },
        getAnnounceOpts: () => ({ numwant: 0, left: 0 })
      })
      btClients.push(client)
      client.on('warning', (err: Error) => warnings.push(err.message))
      client.on('error', (err: Error) => warnings.push(`error: ${err.message}`))
      client.on('peer', (peer: BtPeer) => {
        btPeers.push(peer)
      })
      client.on('update', (data: { infoHash: string }) => updated.add(data.infoHash))
      client.start()
    }
    // Every torrent's announce got a reply with action and its own info_hash ('update').
    expect(await until(() => updated.size === TORRENTS, 10_000)).toBe(true)

    const sdp = await realOfferSdp()
    const answered = new Set<number>()
    const leechers: Promise<WebSocket>[] = []
    for (let t = 0; t < TORRENTS; t++) {
      for (let l = 0; l < LEECHERS_PER_TORRENT; l++) {
        const n = t * LEECHERS_PER_TORRENT + l
        leechers.push(
          rawSocket(url, `127.0.9.${n + 1}`, msg => {
            if ('answer' in msg && msg.peer_id === hexToBinary(seederPeerId)) answered.add(n)
          })
        )
      }
    }
    const opened = await Promise.all(leechers)
    opened.forEach((ws, n) => {
      const infoHash = hexToBinary(hashes[Math.floor(n / LEECHERS_PER_TORRENT)]!)
      // An offer for everyone in the swarm: later leechers also offer to earlier ones, and the seeder gets one from each.
      send(ws, {
        action: 'announce',
        info_hash: infoHash,
        peer_id: binaryId(),
        event: 'started',
        numwant: LEECHERS_PER_TORRENT,
        offers: Array.from({ length: LEECHERS_PER_TORRENT }, () => ({
          offer: { type: 'offer', sdp },
          offer_id: binaryId()
        }))
      })
    })
    // simple-peer answers after its 5 s ICE timeout (node-datachannel gives no end-of-candidates).
    const all = await until(() => answered.size === opened.length, 25_000)
    const stats = (await (await fetch(`${tracker.httpUrl}/stats`)).json()) as { connections: number }
    process.stderr.write(
      `${JSON.stringify({ test: 'seeder-40-torrents', answered: answered.size, of: opened.length, warnings, connections: stats.connections })}\n`
    )
    expect(all, `${answered.size} of ${opened.length} leechers got an answer`).toBe(true)
    expect(warnings).toEqual([])
    // The seeder's one socket is still open, next to the 120 leechers.
    expect(stats.connections).toBe(opened.length + 1)
  }, 60_000)

  it('a seeder hit by 300 peers joining in 3 s keeps its socket, and every joiner gets an answer', async () => {
    tracker = createTracker({ port: 0 })
    await tracker.start()
    const url = tracker.url
    const JOINERS = 300
    const SPREAD_MS = 3000
    const RETRY_MS = 1000
    const RETRIES = 5
    const infoHash = binaryId()
    const seederPeer = binaryId()
    let seederAnswers = 0
    let closedByRule: string | undefined
    const seederFailures: Json[] = []
    const seeder = await rawSocket(url, '127.0.10.250', (msg, ws) => {
      // bittorrent-tracker's client: an action other than announce/scrape means a broken tracker.
      if (msg.action !== 'announce' && msg.action !== 'scrape') {
        closedByRule = JSON.stringify(msg)
        ws.close()
        return
      }
      if ('failure reason' in msg) seederFailures.push(msg)
      if ('offer' in msg) {
        send(ws, {
          action: 'announce',
          info_hash: infoHash,
          peer_id: seederPeer,
          to_peer_id: msg.peer_id,
          offer_id: msg.offer_id,
          answer: fakeSdp('answer', 's')
        })
        seederAnswers++
      }
    })
    send(seeder, {
      action: 'announce',
      info_hash: infoHash,
      peer_id: seederPeer,
      event: 'started',
      left: 0,
      numwant: 0
    })

    let answered = 0
    const joiners: Promise<void>[] = []
    for (let i = 0; i < JOINERS; i++) {
      const joiner = { peerId: binaryId(), done: false, tries: 0 }
      // As a real client re-offers when it still wants peers: an offer can go to a joiner
      // that is just leaving, whose answer then comes from outside the swarm and is dropped.
      const offer = (ws: WebSocket, event: string): void => {
        if (joiner.done || joiner.tries++ >= RETRIES) return
        send(ws, {
          action: 'announce',
          info_hash: infoHash,
          peer_id: joiner.peerId,
          event,
          numwant: 1,
          offers: [{ offer: fakeSdp('offer', 'j'), offer_id: binaryId() }]
        })
        setTimeout(() => offer(ws, 'update'), RETRY_MS).unref()
      }
      // 30 addresses, 10 joiners each: a crowd from many homes.
      joiners.push(
        rawSocket(url, `127.0.10.${(i % 30) + 1}`, (msg, ws) => {
          if ('offer' in msg) {
            // A joiner answers offers from other joiners too, as a real peer would.
            send(ws, {
              action: 'announce',
              info_hash: infoHash,
              peer_id: joiner.peerId,
              to_peer_id: msg.peer_id,
              offer_id: msg.offer_id,
              answer: fakeSdp('answer', 'j')
            })
          } else if ('answer' in msg && !joiner.done) {
            joiner.done = true
            answered++
            send(ws, { action: 'announce', info_hash: infoHash, peer_id: joiner.peerId, event: 'stopped' })
          }
        }).then(ws => offer(ws, 'started'))
      )
      await new Promise(resolve => setTimeout(resolve, SPREAD_MS / JOINERS))
    }
    await Promise.all(joiners)
    const all = await until(() => answered === JOINERS, 10_000)
    process.stderr.write(
      `${JSON.stringify({ test: 'seeder-flash-crowd', answered, of: JOINERS, seederAnswers, seederOpen: seeder.readyState === WebSocket.OPEN, closedByRule, seederFailures: seederFailures.length })}\n`
    )
    expect(closedByRule).toBeUndefined()
    expect(seeder.readyState).toBe(WebSocket.OPEN)
    expect(all, `${answered} of ${JOINERS} joiners got an answer`).toBe(true)
    expect(seederFailures).toEqual([])
    // Most offers reached the seeder: far more answers than its announce budget (60 + 20/s).
    expect(seederAnswers).toBeGreaterThan(150)
  }, 30_000)
})
