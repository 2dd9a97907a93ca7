/**
 * Memory exhaustion through a socket that stops reading. One client joins 50 swarms and
 * then stops reading its socket (`ws._socket.pause()`: the kernel's buffers fill, then
 * the tracker's); 50 senders, one per swarm and each from its own address, send it
 * offers of 16 KiB as fast as the tracker takes them, for a bounded time. The rate limits
 * are lifted so that only the backlog limit is tested.
 *
 * The tracker's RSS must stay under baseline + FIXED_OVERHEAD, the slow socket must be
 * dropped (and leave its swarms), and a pair of honest peers in another swarm must keep
 * getting their replies, offers and answers.
 *
 * Before the fix (measured on dbdbeef): RSS grew by 202 MiB in the 4 s, the slow socket
 * was never dropped, and the honest pair finished 2 rounds (about 45 after). Six slow
 * readers of their own replies: none dropped, +54 MiB.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { binaryId, fakeSdp, isAnnounceReply, isAnswer, isOffer } from '../../helpers/tracker-client.js'
import { join } from '../../helpers/tracker-harness.js'
import {
  MiB,
  connectFrom,
  mb,
  openFlood,
  record,
  stopTrackers,
  startTracker,
  underAttack,
  until
} from './support/harness.js'
import type { FloodSocket } from './support/harness.js'

const SENDERS = 50
const ATTACK_MS = 4000
/** Offers of this size: the protocol's largest SDP is 16 KiB. */
const SDP_CHARS = 16 * 1024 - 64
/** A sender keeps at most this much unsent in its own ws, so the test process stays small. */
const SENDER_QUEUE_BYTES = 256 * 1024
const MAX_BUFFERED_BYTES = 1024 * 1024
const STALL_MS = 2000
/**
 * RSS a tracker holding nothing beyond its limits still grows by under this flood:
 * thousands of 16 KiB offers a second parsed and answered make a lot of short-lived
 * strings, and V8 grows its young and old generations before it collects. Measured with
 * the fix: 22-36 MiB above the baseline over six runs (the slow socket is dropped within
 * its first 200-300 offers, so that is all parsing). Plus the one socket's
 * MAX_BUFFERED_BYTES. The tracker before the fix grew 202 MiB in the same 4 s.
 */
const FIXED_OVERHEAD = 64 * MiB

afterAll(stopTrackers)

describe('a socket that stops reading', () => {
  it('is dropped once it holds maxBufferedBytes, leaves its swarms, and the tracker RSS stays bounded', async () => {
    const tracker = await startTracker({
      messagesPerSecond: 1_000_000,
      messageBurst: 1_000_000,
      messagesPerSecondPerIp: 1_000_000,
      messageBurstPerIp: 1_000_000,
      maxBufferedBytes: MAX_BUFFERED_BYTES,
      // A socket that lags (over its write buffer, not draining) this long is dropped too.
      pingIntervalMs: STALL_MS
    })
    const swarms = Array.from({ length: SENDERS }, binaryId)
    const slowPeer = binaryId()
    const slow = await connectFrom(tracker.url, '127.0.3.250')
    for (const infoHash of swarms) await join(slow, infoHash, slowPeer)

    // Honest peers in a swarm of their own, from other addresses: they must be served throughout.
    const honestSwarm = binaryId()
    const [alice, bob] = [await connectFrom(tracker.url, '127.0.3.251'), await connectFrom(tracker.url, '127.0.3.252')]
    const [alicePeer, bobPeer] = [binaryId(), binaryId()]
    await join(alice, honestSwarm, alicePeer)
    await join(bob, honestSwarm, bobPeer)

    const senders: FloodSocket[] = []
    const senderPeers = swarms.map(() => binaryId())
    for (let i = 0; i < SENDERS; i++) {
      const sender = await openFlood(tracker.url, `127.0.3.${i + 1}`)
      sender.send({ action: 'announce', info_hash: swarms[i]!, peer_id: senderPeers[i]!, event: 'started', numwant: 0 })
      senders.push(sender)
    }
    await until(() => senders.every(s => s.counts.replies > 0), 5000)
    const baseline = tracker.rss()
    const slowClosed = slow.closed

    // Stop reading: nothing is taken from the socket any more; the tracker's writes back up.
    const socket = (slow.ws as unknown as { _socket: { pause: () => void; resume: () => void } })._socket
    socket.pause()

    const sdp = fakeSdp('offer', 'x').sdp.padEnd(SDP_CHARS, 'a')
    let sent = 0
    let honestRounds = 0
    const m = await underAttack(
      tracker,
      async signal => {
        const end = Date.now() + ATTACK_MS
        const flood = senders.map(async (sender, i) => {
          const peerId = senderPeers[i]!
          while (Date.now() < end && !signal.aborted) {
            if (sender.ws.bufferedAmount < SENDER_QUEUE_BYTES) {
              sender.send({
                action: 'announce',
                info_hash: swarms[i]!,
                peer_id: peerId,
                numwant: 1,
                offers: [{ offer: { type: 'offer', sdp }, offer_id: binaryId() }]
              })
              sent++
            }
            await new Promise(resolve => setTimeout(resolve, sender.ws.bufferedAmount < SENDER_QUEUE_BYTES ? 0 : 5))
          }
        })
        // Meanwhile the honest pair does a whole offer/answer round, again and again.
        const honest = (async () => {
          while (Date.now() < end && !signal.aborted) {
            const offerId = binaryId()
            alice.send({
              action: 'announce',
              info_hash: honestSwarm,
              peer_id: alicePeer,
              numwant: 1,
              offers: [{ offer: fakeSdp('offer', 'h'), offer_id: offerId }]
            })
            await alice.next(isAnnounceReply, 10_000)
            const offer = await bob.next(isOffer, 10_000)
            bob.send({
              action: 'announce',
              info_hash: honestSwarm,
              peer_id: bobPeer,
              to_peer_id: alicePeer,
              offer_id: offer.offer_id,
              answer: fakeSdp('answer', 'h')
            })
            expect(await alice.next(isAnswer, 10_000)).toMatchObject({ offer_id: offerId })
            honestRounds++
            await new Promise(resolve => setTimeout(resolve, 50))
          }
        })()
        await Promise.all([...flood, honest])
      },
      baseline
    )

    const dropped = await tracker.metric('p2pcdn_tracker_rejects_total{reason="slow-reader"}')
    const stalled = await tracker.metric('p2pcdn_tracker_rejects_total{reason="stalled"}')
    const relayed = await tracker.metric('p2pcdn_tracker_offers_relayed_total')
    const stats = await tracker.stats()
    // Reading again, the client finds its socket closed without a close frame (terminated).
    socket.resume()
    const closedCode = await Promise.race([
      slowClosed,
      new Promise<string>(resolve => setTimeout(() => resolve('still open'), 5000))
    ])
    record('slow-reader', {
      baselineMiB: +(m.baseline / MiB).toFixed(1),
      peakMiB: +(m.peak / MiB).toFixed(1),
      growthMiB: +((m.peak - m.baseline) / MiB).toFixed(1),
      aborted: m.aborted,
      offersSent: sent,
      honestRounds,
      slowDropped: dropped,
      slowStalled: stalled,
      offersRelayed: relayed,
      slowClose: closedCode,
      connectionsAfter: stats.connections,
      error: m.error === undefined ? undefined : String(m.error)
    })
    expect(m.aborted, 'tracker RSS passed the abort line').toBe(false)
    expect(m.error).toBeUndefined()
    expect(m.peak, `peak ${mb(m.peak)} vs baseline ${mb(m.baseline)} + ${mb(FIXED_OVERHEAD)}`).toBeLessThan(
      m.baseline + FIXED_OVERHEAD
    )
    // Over maxBufferedBytes at once, or lagging for STALL_MS after it was skipped for offers.
    expect(dropped + stalled).toBe(1)
    expect(closedCode).toBe(1006)
    // The senders and the honest pair are left; the slow socket is in no swarm any more.
    expect(stats.connections).toBe(SENDERS + 2)
    expect(honestRounds).toBeGreaterThan(3)
    expect(tracker.alive()).toBe(true)
    for (const sender of senders) sender.ws.terminate()
    await Promise.all([alice.close(), bob.close()])
  }, 40_000)

  it('sheds the largest backlogs once all slow sockets together hold maxBufferedBytesTotal', async () => {
    const SLOW = 6
    const PER_SOCKET = 2 * MiB
    const TOTAL = 3 * MiB
    const tracker = await startTracker({
      messagesPerSecond: 1_000_000,
      messageBurst: 1_000_000,
      messagesPerSecondPerIp: 1_000_000,
      messageBurstPerIp: 1_000_000,
      maxBufferedBytes: PER_SOCKET,
      maxBufferedBytesTotal: TOTAL
    })
    // Each slow socket asks for its own replies (scrapes of 50 swarms, about 3.5 KiB each)
    // and never reads them: a backlog grows by its own requests, offers or not.
    const scrape = JSON.stringify({ action: 'scrape', info_hash: Array.from({ length: 50 }, binaryId) })
    const slow = await Promise.all(
      Array.from({ length: SLOW }, async (_, i) => await openFlood(tracker.url, `127.0.4.${i + 1}`))
    )
    for (const s of slow) (s.ws as unknown as { _socket: { pause: () => void } })._socket.pause()
    const honest = await connectFrom(tracker.url, '127.0.4.200')
    const baseline = tracker.rss()
    const m = await underAttack(
      tracker,
      async signal => {
        // In lockstep, so that the backlogs grow together: the total passes its cap
        // while each is well under its own limit.
        for (let round = 0; round < 2000 && !signal.aborted; round++) {
          for (const s of slow) if (s.ws.readyState === s.ws.OPEN) s.ws.send(scrape)
          if (round % 50 === 49) {
            await join(honest, binaryId(), binaryId())
            if ((await tracker.metric('p2pcdn_tracker_rejects_total{reason="backlog-total"}')) > 0) break
          }
        }
      },
      baseline
    )
    const shed = await tracker.metric('p2pcdn_tracker_rejects_total{reason="backlog-total"}')
    const overOwn = await tracker.metric('p2pcdn_tracker_rejects_total{reason="slow-reader"}')
    const held = await tracker.metric('p2pcdn_tracker_backlog_bytes')
    record('backlog-total', {
      slowSockets: SLOW,
      shed,
      overOwnLimit: overOwn,
      heldAfterMiB: +(held / MiB).toFixed(2),
      growthMiB: +((m.peak - m.baseline) / MiB).toFixed(1)
    })
    expect(m.error).toBeUndefined()
    expect(shed).toBeGreaterThan(0)
    expect(overOwn).toBe(0)
    expect(held).toBeLessThanOrEqual(TOTAL)
    expect(await join(honest, binaryId(), binaryId())).toMatchObject({ incomplete: 1 })
    for (const s of slow) s.ws.terminate()
    await honest.close()
  }, 30_000)
})
