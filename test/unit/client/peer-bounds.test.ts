/**
 * What one connected peer can make us hold or send (client/src/peer/peer.ts), with a
 * fake data channel: HAVEs are bounded and checked, requests are bounded in flight and
 * per chunk, made-up CANCELs grow nothing, unknown frames close the peer. The Chromium
 * tests in test/adversarial/client/ prove the same against a real hostile peer.
 */
import { EventEmitter } from 'node:events'
import type SimplePeer from 'simple-peer'
import { describe, expect, it } from 'vitest'
import {
  bitfieldOf,
  decodeFrame,
  encodeFrame,
  FrameType,
  MAX_REQUESTS_IN_FLIGHT,
  WIRE_VERSION,
  type Frame
} from '../../../protocol/src/index.js'
import { MAX_SENDS_PER_CHUNK, Peer, type PeerOptions } from '../../../client/src/peer/peer.js'
import { UNKNOWN_HAVE_BYTES } from '../../../client/src/peer/have-table.js'
import { FETCHING_RESOURCES, FETCHING_TTL_MS, FetchingTable } from '../../../client/src/peer/fetching-table.js'
import { settle } from './support/fake-clock.js'

const KNOWN = 'aa'.repeat(32)
const CHUNKS = 32
const CHUNK_BYTES = 1024

/** The far end of the data channel: what we sent, and a way to deliver frames to the Peer. */
class FakeChannel extends EventEmitter {
  connected = true
  bufferSize = 0
  destroyed = false
  readonly sent: Frame[] = []
  send(data: Uint8Array): void {
    this.sent.push(decodeFrame(data))
  }
  destroy(): void {
    this.destroyed = true
    this.emit('close')
  }
  deliver(frame: Frame): void {
    this.emit('data', encodeFrame(frame))
  }
  of<T extends Frame['type']>(type: T): Array<Extract<Frame, { type: T }>> {
    return this.sent.filter((f): f is Extract<Frame, { type: T }> => f.type === type)
  }
}

function peerWith(init: Partial<PeerOptions> = {}): { peer: Peer; channel: FakeChannel } {
  const channel = new FakeChannel()
  const peer = new Peer('remote', 'eu', channel as unknown as SimplePeer.Instance, {
    provide: async (id, index) =>
      id === KNOWN && index < CHUNKS ? new Uint8Array(CHUNK_BYTES).fill(index) : undefined,
    throttle: async () => {},
    holdings: [],
    chunksOf: id => (id === KNOWN ? CHUNKS : undefined),
    uploadBytesPerSecond: 0,
    sends: new Map(),
    ...init
  })
  return { peer, channel }
}

function randomId(): string {
  return [...crypto.getRandomValues(new Uint8Array(32))].map(b => b.toString(16).padStart(2, '0')).join('')
}

describe('Peer: what a peer can make us hold', () => {
  it('HAVEs for resources we have no manifest for are kept within a small budget', () => {
    const { peer, channel } = peerWith()
    // 4,000 HAVEs of 60 KB bitfields once kept 210 MiB in a tab.
    const count = 60 * 1024 * 8
    const bitfield = new Uint8Array(count / 8).fill(0xff)
    for (let i = 0; i < 4000; i++)
      channel.deliver({ type: FrameType.HAVE, resourceId: randomId(), chunkCount: count, bitfield })
    expect(peer.destroyed).toBe(false)
    expect(peer.parkedHaveBytes).toBeLessThanOrEqual(UNKNOWN_HAVE_BYTES)
    // Small HAVEs: at most 64 resources are parked.
    for (let i = 0; i < 1000; i++)
      channel.deliver({ type: FrameType.HAVE, resourceId: randomId(), chunkCount: 8, bitfield: Uint8Array.of(0xff) })
    expect(peer.parkedHaveBytes).toBeLessThanOrEqual(64)
  })

  it('a HAVE for a resource we hold a manifest for is kept whole, and one whose chunk count contradicts it closes the peer', () => {
    const { peer, channel } = peerWith()
    channel.deliver({ type: FrameType.HAVE, resourceId: KNOWN, chunkCount: CHUNKS, bitfield: bitfieldOf(CHUNKS, [3]) })
    expect(peer.has(KNOWN, 3)).toBe(true)
    expect(peer.has(KNOWN, 4)).toBe(false)
    channel.deliver({
      type: FrameType.HAVE,
      resourceId: KNOWN,
      chunkCount: CHUNKS * 1000,
      bitfield: new Uint8Array((CHUNKS * 1000) / 8)
    })
    expect(peer.destroyed).toBe(true)
    expect(channel.destroyed).toBe(true)
  })

  it('an unknown frame type closes the peer', () => {
    const { peer, channel } = peerWith()
    channel.emit('data', Uint8Array.of(99, 1, 2, 3))
    expect(peer.destroyed).toBe(true)
  })

  it('CANCELs for requests we are not serving grow nothing, and do not cancel later requests with that id', async () => {
    const { channel } = peerWith()
    for (let id = 1; id <= 10_000; id++) channel.deliver({ type: FrameType.CANCEL, requestId: id })
    channel.deliver({ type: FrameType.REQUEST, requestId: 5, resourceId: KNOWN, index: 0 })
    await settle()
    expect(channel.of(FrameType.DATA).map(f => f.requestId)).toEqual([5])
  })
})

describe('Peer: fair upload', () => {
  it('the same chunk is sent to one peer at most MAX_SENDS_PER_CHUNK times; replays get ABSENT', async () => {
    const { channel } = peerWith()
    let requestId = 1
    // 400 rounds of the same 32 chunks, as the replay attack asked.
    for (let round = 0; round < 400; round++) {
      for (let index = 0; index < CHUNKS; index++)
        channel.deliver({ type: FrameType.REQUEST, requestId: requestId++, resourceId: KNOWN, index })
      await settle()
    }
    const uploaded = channel.of(FrameType.DATA).reduce((n, f) => n + f.bytes.length, 0)
    expect(uploaded).toBeLessThanOrEqual(MAX_SENDS_PER_CHUNK * CHUNKS * CHUNK_BYTES)
    expect(uploaded).toBeGreaterThan(0)
    expect(channel.of(FrameType.ABSENT).length).toBeGreaterThanOrEqual(400 * CHUNKS - MAX_SENDS_PER_CHUNK * CHUNKS)
  })

  it("reconnecting does not buy fresh copies: the counts are the peer id's, not the connection's", async () => {
    const sends = new Map<string, number>()
    let sent = 0
    for (let connection = 0; connection < 3; connection++) {
      const { channel } = peerWith({ sends })
      for (let i = 1; i <= 4; i++)
        channel.deliver({ type: FrameType.REQUEST, requestId: i, resourceId: KNOWN, index: 0 })
      await settle()
      sent += channel.of(FrameType.DATA).length
    }
    expect(sent).toBe(MAX_SENDS_PER_CHUNK)
  })

  it('at most MAX_REQUESTS_IN_FLIGHT requests of one peer are served at once', async () => {
    const gates: Array<() => void> = []
    const { channel } = peerWith({
      provide: async () => await new Promise(resolve => gates.push(() => resolve(new Uint8Array(CHUNK_BYTES))))
    })
    for (let i = 0; i < 50; i++)
      channel.deliver({ type: FrameType.REQUEST, requestId: i + 1, resourceId: KNOWN, index: i % CHUNKS })
    await settle()
    expect(gates.length).toBe(MAX_REQUESTS_IN_FLIGHT)
    expect(channel.of(FrameType.ABSENT).length).toBe(50 - MAX_REQUESTS_IN_FLIGHT)
    for (const open of gates) open()
    await settle()
    expect(channel.of(FrameType.DATA).length).toBe(MAX_REQUESTS_IN_FLIGHT)
  })

  it('a peer with its own cap waits for it', async () => {
    // 2 KiB/s for this peer, whose bucket starts with one second of tokens: the third
    // 1 KiB chunk waits about half a second.
    const { channel } = peerWith({ uploadBytesPerSecond: 2048 })
    const started = performance.now()
    for (let i = 0; i < 3; i++)
      channel.deliver({ type: FrameType.REQUEST, requestId: i + 1, resourceId: KNOWN, index: i })
    await settle()
    expect(channel.of(FrameType.DATA).length).toBe(2)
    while (channel.of(FrameType.DATA).length < 3 && performance.now() - started < 5000)
      await new Promise(resolve => setTimeout(resolve, 20))
    expect(channel.of(FrameType.DATA).length).toBe(3)
    expect(performance.now() - started).toBeGreaterThanOrEqual(400)
  })

  it('the handshake goes out first', () => {
    const { channel } = peerWith()
    expect(channel.sent[0]).toEqual({ type: FrameType.HANDSHAKE, version: WIRE_VERSION })
  })
})

describe('Peer: FETCHING claims', () => {
  it('a claim says the peer is fetching those chunks; a new claim replaces it; an empty one clears it', () => {
    const { peer, channel } = peerWith()
    channel.deliver({
      type: FrameType.FETCHING,
      resourceId: KNOWN,
      chunkCount: CHUNKS,
      bitfield: bitfieldOf(CHUNKS, [3])
    })
    expect(peer.fetching(KNOWN, 3)).toBe(true)
    expect(peer.fetching(KNOWN, 4)).toBe(false)
    expect(peer.has(KNOWN, 3)).toBe(false) // fetching is not holding
    channel.deliver({
      type: FrameType.FETCHING,
      resourceId: KNOWN,
      chunkCount: CHUNKS,
      bitfield: bitfieldOf(CHUNKS, [])
    })
    expect(peer.fetching(KNOWN, 3)).toBe(false)
  })

  it('claims for thousands of resources keep at most FETCHING_RESOURCES, and the peer stays', () => {
    const { peer, channel } = peerWith()
    const count = 60 * 1024 * 8
    const bitfield = new Uint8Array(count / 8).fill(0xff)
    for (let i = 0; i < 4000; i++)
      channel.deliver({ type: FrameType.FETCHING, resourceId: randomId(), chunkCount: count, bitfield })
    expect(peer.destroyed).toBe(false)
    expect(peer.fetchingClaims).toBeLessThanOrEqual(FETCHING_RESOURCES)
  })

  it('a claim whose chunk count contradicts our manifest closes the connection', () => {
    const { peer, channel } = peerWith()
    channel.deliver({
      type: FrameType.FETCHING,
      resourceId: KNOWN,
      chunkCount: CHUNKS + 8,
      bitfield: bitfieldOf(CHUNKS + 8, [0])
    })
    expect(peer.destroyed).toBe(true)
  })

  it('a claim expires after FETCHING_TTL_MS: a peer that never delivers stops holding others back', () => {
    let now = 0
    const table = new FetchingTable(
      () => CHUNKS,
      () => now
    )
    table.set(KNOWN, CHUNKS, bitfieldOf(CHUNKS, [0]))
    now = FETCHING_TTL_MS - 1
    expect(table.has(KNOWN, 0)).toBe(true)
    now = FETCHING_TTL_MS
    expect(table.has(KNOWN, 0)).toBe(false)
  })
})
