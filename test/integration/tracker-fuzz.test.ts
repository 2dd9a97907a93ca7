/**
 * Hostile input: 12,000 malformed, oversized and out-of-order messages from 60 sockets
 * against a tracker in its own process. The process never crashes, a well-behaved client
 * on another socket keeps getting answers throughout, and once the hostile sockets close
 * the tracker's heap (after full GCs) is back near its baseline.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { join as joinPath } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { binaryId, connectRaw, fakeSdp, getJson, isAnnounceReply } from '../helpers/tracker-client.js'
import type { Json } from '../helpers/tracker-client.js'
import { join } from '../helpers/tracker-harness.js'

const SOCKETS = 60
const MESSAGES_PER_SOCKET = 200
/** Heap growth still tolerated after the sockets close: generous, the machine is noisy and V8 keeps some caches. */
const HEAP_TOLERANCE_BYTES = 8 * 1024 * 1024

let child: ChildProcess | undefined
afterAll(() => {
  child?.kill('SIGKILL')
})

function startChild(): Promise<{ proc: ChildProcess; port: number }> {
  const proc = fork(
    joinPath(import.meta.dirname, '../helpers/tracker-gc-server.ts'),
    [
      JSON.stringify({
        messagesPerSecond: 100_000,
        messageBurst: 100_000,
        messagesPerSecondPerIp: 100_000,
        messageBurstPerIp: 100_000,
        edgeToken: 'secret'
      })
    ],
    { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }
  )
  child = proc
  return new Promise((resolve, reject) => {
    proc.once('message', msg => resolve({ proc, port: (msg as { port: number }).port }))
    proc.once('exit', code => reject(new Error(`tracker exited with ${String(code)}`)))
  })
}

function heapOf(proc: ChildProcess): Promise<number> {
  return new Promise(resolve => {
    proc.once('message', msg => resolve((msg as { heapUsed: number }).heapUsed))
    proc.send('measure')
  })
}

/** A small deterministic PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let s = seed
  return () => {
    s = (s * 1_103_515_245 + 12_345) & 0x7fffffff
    return s / 0x7fffffff
  }
}

/** One hostile message: broken JSON, wrong types, odd sizes, or well-formed but out of order. */
function hostileMessage(rand: () => number, infoHashes: string[]): string | Buffer {
  const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)]!
  const ih = pick(infoHashes)
  const id = binaryId()
  const kinds: Array<() => string | Buffer> = [
    () => Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256))),
    () => '{"action":"announce","info_hash":',
    () => 'null',
    () => '[]',
    () => `${'['.repeat(500)}${']'.repeat(500)}`,
    () =>
      JSON.stringify({ action: pick(['announce', 'scrape', 'p2pcdn:edges', 'p2pcdn:edge-load', 'nope', 42, null]) }),
    () => JSON.stringify({ action: 'announce', info_hash: ih, peer_id: id.slice(0, 19) }),
    () =>
      JSON.stringify({
        action: 'announce',
        info_hash: ih,
        peer_id: id,
        event: pick(['started', 'stopped', 'completed', 'bogus', 7]),
        left: pick([0, -1, 'x', 1e308, null])
      }),
    () =>
      JSON.stringify({
        action: 'announce',
        info_hash: ih,
        peer_id: id,
        offers: pick([{}, [1, 2], [{ offer: 'x' }], [{ offer: fakeSdp('offer', 'f'), offer_id: binaryId() }]])
      }),
    () =>
      JSON.stringify({
        action: 'announce',
        info_hash: ih,
        peer_id: id,
        numwant: 10,
        offers: Array.from({ length: 10 }, () => ({ offer: fakeSdp('offer', 'f'), offer_id: binaryId() }))
      }),
    () =>
      JSON.stringify({
        action: 'announce',
        info_hash: ih,
        peer_id: id,
        to_peer_id: binaryId(),
        offer_id: binaryId(),
        answer: fakeSdp('answer', 'a')
      }),
    () => JSON.stringify({ action: 'announce', info_hash: ih, peer_id: id, event: 'stopped' }),
    () => JSON.stringify({ action: 'scrape', info_hash: Array.from({ length: pick([0, 3, 101]) }, binaryId) }),
    () =>
      JSON.stringify({
        action: 'p2pcdn:edge-register',
        v: 1,
        token: pick(['secret', 'wrong']),
        url: pick(['https://e.example', 'ftp://x']),
        region: 'eu',
        capacity: 5
      }),
    () =>
      JSON.stringify({
        action: 'p2pcdn:edge-load',
        v: 1,
        connections: 1,
        bytesPerSec: 1,
        hitRatio: pick([0.5, 2, -1])
      }),
    () => JSON.stringify({ action: 'announce', info_hash: ih, peer_id: id, region: 'r'.repeat(pick([1, 3000])) }),
    () =>
      JSON.stringify({
        action: 'announce',
        info_hash: ih,
        peer_id: id,
        offers: [{ offer: { type: 'offer', sdp: 's'.repeat(20_000) }, offer_id: binaryId() }]
      })
  ]
  return pick(kinds)()
}

describe('fuzz', () => {
  it('survives 12,000 hostile messages, keeps serving others, and returns to its baseline heap', async () => {
    const { proc, port } = await startChild()
    const url = `ws://127.0.0.1:${port}`
    // Warm up code paths and lazily built caches before the baseline.
    const warm = await connectRaw(url)
    await join(warm, binaryId(), binaryId())
    await warm.close()
    const baseline = await heapOf(proc)

    const good = await connectRaw(url)
    const goodHash = binaryId()
    const goodPeer = binaryId()
    await join(good, goodHash, goodPeer)

    const rand = prng(20_240_611)
    const infoHashes = [goodHash, ...Array.from({ length: 20 }, binaryId)]
    let sent = 0
    let oversizedCloses = 0
    const hostile = Array.from({ length: SOCKETS }, async (_, s) => {
      let ws = await open(url)
      for (let i = 0; i < MESSAGES_PER_SOCKET; i++) {
        // Every 50th message is over maxPayload: ws closes that socket (1009); reconnect and go on.
        const oversized = i % 50 === 49
        if (ws.readyState !== WebSocket.OPEN) ws = await open(url)
        ws.send(oversized ? 'x'.repeat(70 * 1024) : hostileMessage(rand, infoHashes))
        sent++
        if (oversized) {
          const code = await new Promise<number>(resolve => ws.once('close', resolve))
          if (code === 1009) oversizedCloses++
        }
        // The good client asks now and then and must always get its answer.
        if (s === 0 && i % 20 === 0) {
          good.send({ action: 'announce', info_hash: goodHash, peer_id: goodPeer, event: 'update' })
          await good.next(isAnnounceReply, 5000)
        }
        if (i % 25 === 0) await new Promise(resolve => setImmediate(resolve))
      }
      ws.terminate()
    })
    await Promise.all(hostile)
    expect(sent).toBe(SOCKETS * MESSAGES_PER_SOCKET)
    expect(oversizedCloses).toBe(SOCKETS * Math.floor(MESSAGES_PER_SOCKET / 50))

    // Still alive and serving; everything of the hostile sockets is gone.
    good.send({ action: 'announce', info_hash: goodHash, peer_id: goodPeer, event: 'update' })
    expect(await good.next(isAnnounceReply)).toMatchObject({ info_hash: goodHash })
    await good.close()
    const stats = await waitForStats(`http://127.0.0.1:${port}/stats`, s => s.connections === 0)
    expect(stats).toMatchObject({ peers: 0, swarms: 0, edges: 0 })
    expect(proc.exitCode).toBeNull()

    const after = await heapOf(proc)
    expect(after - baseline).toBeLessThan(HEAP_TOLERANCE_BYTES)
  }, 90_000)
})

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url)
  ws.on('error', () => {})
  // Replies are not read; discard them so they do not pile up in this process.
  ws.on('message', () => {})
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  return ws
}

async function waitForStats(url: string, done: (stats: Json) => boolean): Promise<Json> {
  for (let i = 0; i < 100; i++) {
    const stats = (await getJson(url)).body as Json
    if (done(stats)) return stats
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  return (await getJson(url)).body as Json
}
