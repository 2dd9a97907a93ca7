/**
 * Proving that something did NOT arrive, without sleeping.
 *
 * The tracker handles the frames of one socket in order, synchronously, and writes to
 * each socket in order. So a `scrape` sent on a socket and answered is a round-trip
 * barrier: every frame that socket sent before it has been handled, and everything the
 * tracker wrote to that socket before the reply has been received (and queued in its
 * inbox) by the time the reply is.
 *
 * "Did anything reach `victim` because of what `sender` sent?" takes two barriers: one on
 * `sender` (its frames were handled, so whatever they caused was written), then one on
 * `victim` (whatever was written to it has arrived). `expectNothing` does exactly that.
 */
import { binaryId, fakeSdp, isAnnounceReply, isAnswer, isOffer } from './tracker-client.js'
import type { Json, RawTrackerClient } from './tracker-client.js'

/** A scrape on `client`'s own socket, and its reply: see the file comment. */
export async function barrier(client: RawTrackerClient, timeoutMs = 5000): Promise<void> {
  // A swarm nobody is in: the reply names it, so it cannot be confused with another scrape's.
  const tag = binaryId()
  client.send({ action: 'scrape', info_hash: tag })
  await client.next(m => m.action === 'scrape' && isObject(m.files) && tag in m.files, timeoutMs)
}

/**
 * Nothing matching `match` reached `victim` from what it, or any of `senders`, sent so
 * far: a barrier on each sender, then one on `victim`, then a look at its inbox.
 */
export async function expectNothing(
  victim: RawTrackerClient,
  match: (msg: Json) => boolean = () => true,
  senders: RawTrackerClient[] = []
): Promise<void> {
  for (const sender of senders) await barrier(sender)
  await barrier(victim)
  const found = victim.inbox.find(match)
  if (found !== undefined) throw new Error(`unexpected message: ${JSON.stringify(found).slice(0, 300)}`)
}

/**
 * A barrier for a socket the tracker has stopped answering (over its message budget: a
 * scrape would be dropped silently too). Answers to offers the tracker forwarded to a
 * socket are free of the budget, so the round trip goes through a `partner` socket:
 * `throttled` answers the partner's offer (handled after every frame `throttled` sent
 * before), the partner sees it and answers `throttled`'s offer, and `throttled` sees that
 * (written after everything the tracker wrote to it before).
 *
 * Call before the flood: it costs `throttled` one announce (its budget's first token),
 * in a swarm of its own. The returned barrier can be used once.
 */
export async function throttledBarrier(
  throttled: RawTrackerClient,
  partner: RawTrackerClient
): Promise<() => Promise<void>> {
  const infoHash = binaryId()
  const [throttledPeer, partnerPeer] = [binaryId(), binaryId()]
  const [throttledOffer, partnerOffer] = [binaryId(), binaryId()]
  const announce = (peerId: string, offerId?: string): Json => ({
    action: 'announce',
    info_hash: infoHash,
    peer_id: peerId,
    event: 'started',
    numwant: offerId === undefined ? 0 : 1,
    ...(offerId === undefined ? {} : { offers: [{ offer: fakeSdp('offer', 'barrier'), offer_id: offerId }] })
  })
  const answer = (peerId: string, to: string, offerId: string): Json => ({
    action: 'announce',
    info_hash: infoHash,
    peer_id: peerId,
    to_peer_id: to,
    offer_id: offerId,
    answer: fakeSdp('answer', 'barrier')
  })
  partner.send(announce(partnerPeer))
  await partner.next(isAnnounceReply)
  throttled.send(announce(throttledPeer, throttledOffer))
  await throttled.next(isAnnounceReply)
  await partner.next(m => isOffer(m) && m.offer_id === throttledOffer)
  partner.send(announce(partnerPeer, partnerOffer))
  await partner.next(isAnnounceReply)
  await throttled.next(m => isOffer(m) && m.offer_id === partnerOffer)
  return async () => {
    throttled.send(answer(throttledPeer, partnerPeer, partnerOffer))
    await partner.next(m => isAnswer(m) && m.offer_id === partnerOffer)
    partner.send(answer(partnerPeer, throttledPeer, throttledOffer))
    await throttled.next(m => isAnswer(m) && m.offer_id === throttledOffer)
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}
