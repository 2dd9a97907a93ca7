/**
 * Interop: the real `bittorrent-tracker` npm client (what WebTorrent uses) announces to our
 * tracker, and two clients connect over WebRTC (node-datachannel via webrtc-polyfill)
 * with the offer and the answer relayed by our tracker.
 */
import { randomBytes } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import type { LogFields, Logger } from '../../protocol/src/index.js'
// @ts-expect-error -- bittorrent-tracker ships no type declarations
import { Client as UntypedClient } from 'bittorrent-tracker'
import { createTracker } from '../../tracker/src/index.js'
import type { Tracker } from '../../tracker/src/index.js'

/** The slice of simple-peer a 'peer' event hands out that this test uses. */
interface BtPeer extends EventEmitter {
  id: string
  /** simple-peer's flag: the data channel is open. */
  connected: boolean
  send: (data: string) => void
  destroy: () => void
}

/** The slice of bittorrent-tracker's Client this test uses. */
interface BtClient extends EventEmitter {
  start: () => void
  complete: () => void
  scrape: () => void
  destroy: (cb?: (err?: Error | null) => void) => void
}

interface BtClientOptions {
  infoHash: string
  peerId: string
  announce: string[]
  port: number
  rtcConfig?: { iceServers: unknown[] }
}

const Client = UntypedClient as new (opts: BtClientOptions) => BtClient

interface LogLine {
  level: string
  event: string
  fields: LogFields
}

function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = []
  const at =
    (level: string) =>
    (event: string, fields: LogFields = {}): void => {
      lines.push({ level, event, fields })
    }
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } }
}

const hex20 = (): string => randomBytes(20).toString('hex')

let tracker: Tracker | undefined
const btClients: BtClient[] = []
const btPeers: BtPeer[] = []
/** Warnings mean a client disliked something our tracker sent; every test expects none. */
const warnings: string[] = []

afterEach(async () => {
  const seen = warnings.splice(0)
  // Peers handed out by 'peer' events belong to us; the client only destroys its own
  // pending offers. Undestroyed peers keep node-datachannel (and the test process) alive.
  for (const peer of btPeers.splice(0)) peer.destroy()
  await Promise.all(
    btClients.splice(0).map(async client => await new Promise<void>(resolve => client.destroy(() => resolve())))
  )
  await tracker?.stop()
  tracker = undefined
  expect(seen).toEqual([])
})

function startClient(opts: BtClientOptions): BtClient {
  // No STUN: host candidates are enough on 127.0.0.1, and tests must not reach the internet.
  const client = new Client({ rtcConfig: { iceServers: [] }, ...opts })
  btClients.push(client)
  client.on('warning', (err: Error) => warnings.push(`warning: ${err.message}`))
  client.on('error', (err: Error) => warnings.push(`error: ${err.message}`))
  client.on('peer', (peer: BtPeer) => {
    btPeers.push(peer)
  })
  client.start()
  return client
}

/**
 * The client does not trickle ICE, and node-datachannel's polyfill never emits the final
 * null candidate, so simple-peer sends each offer and answer only after its 5 s
 * iceCompleteTimeout: B's offer takes 5 s, A's answer 5 s more.
 */
const WEBRTC_TEST_TIMEOUT_MS = 60_000

function once<T>(emitter: EventEmitter, event: string, timeoutMs = 25_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs)
    emitter.once(event, (value: T) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}

describe('bittorrent-tracker client against our tracker', () => {
  it(
    'connects two clients over WebRTC with the offer and answer relayed by our tracker',
    async () => {
      const { logger, lines } = captureLogger()
      tracker = createTracker({ port: 0, logger })
      await tracker.start()
      const infoHash = hex20()
      const [peerIdA, peerIdB] = [hex20(), hex20()]

      const a = startClient({ infoHash, peerId: peerIdA, announce: [tracker.url], port: 6881 })
      expect(await once<Record<string, unknown>>(a, 'update')).toMatchObject({
        complete: 0,
        incomplete: 1,
        announce: tracker.url
      })

      // Another path gives B its own socket: the client pools sockets by announce URL.
      const urlB = `${tracker.url}/announce`
      const aGotPeer = once<BtPeer>(a, 'peer')
      const b = startClient({ infoHash, peerId: peerIdB, announce: [urlB], port: 6882 })
      const bGotPeer = once<BtPeer>(b, 'peer')
      expect(await once<Record<string, unknown>>(b, 'update')).toMatchObject({ complete: 0, incomplete: 2 })

      // B's offer reached A through us ('peer' on A), A's answer came back ('peer' on B).
      const [peerAtA, peerAtB] = await Promise.all([aGotPeer, bGotPeer])
      expect(peerAtA.id).toBe(peerIdB)
      expect(peerAtB.id).toBe(peerIdA)

      // And the data channel works end to end.
      // A peer may have opened its channel before we got here: its 'connect' is gone then.
      const open = async (peer: BtPeer): Promise<unknown> => (peer.connected ? undefined : await once(peer, 'connect'))
      await Promise.all([open(peerAtA), open(peerAtB)])
      const received = once<Uint8Array>(peerAtB, 'data')
      peerAtA.send('hello over webrtc')
      expect(Buffer.from(await received).toString()).toBe('hello over webrtc')

      // The operator sees the relays in the Prometheus counters.
      const metrics = await (await fetch(`${tracker.httpUrl}/metrics`)).text()
      expect(metrics).toMatch(/^p2pcdn_tracker_offers_relayed_total [1-9]/m)
      expect(metrics).toMatch(/^p2pcdn_tracker_answers_relayed_total [1-9]/m)

      expect(lines.filter(l => l.level === 'warn' || l.level === 'error')).toEqual([])
    },
    WEBRTC_TEST_TIMEOUT_MS
  )

  it(
    'reports counts in update and scrape events, and a completed client as complete',
    async () => {
      tracker = createTracker({ port: 0, announceIntervalS: 300 })
      await tracker.start()
      const infoHash = hex20()
      const a = startClient({ infoHash, peerId: hex20(), announce: [tracker.url], port: 6881 })
      await once(a, 'update')

      a.complete()
      expect(await once<Record<string, unknown>>(a, 'update')).toMatchObject({
        complete: 1,
        incomplete: 0,
        interval: 300
      })

      a.scrape()
      expect(await once<Record<string, unknown>>(a, 'scrape')).toMatchObject({
        infoHash,
        complete: 1,
        incomplete: 0,
        downloaded: 1
      })
    },
    WEBRTC_TEST_TIMEOUT_MS
  )
})
