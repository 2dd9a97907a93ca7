/**
 * The tracker half of a Node peer: one `ws` WebSocket speaking the WebTorrent tracker
 * protocol exactly as the SDK's swarm does (client/src/peer/swarm.ts), so the tracker and
 * the pages cannot tell it from a browser. It announces, hands out offers it is given,
 * and passes relayed offers and answers to its owner.
 */
import { createHash, randomBytes } from 'node:crypto'
import { WebSocket } from 'ws'
import {
  parseTrackerMessage,
  toBinaryString,
  type AnswerForward,
  type ClientMessage,
  type OfferEntry,
  type OfferForward
} from '../../../protocol/src/index.js'

export interface SignallerInit {
  /** ws:// URL of the tracker. */
  tracker: string
  /** Swarm name, hashed into the info_hash as the SDK does. */
  swarm: string
  /** Announced region; pages prefer peers of their own region, so a hostile peer claims theirs. */
  region: string
  onOffer: (msg: OfferForward) => void
  onAnswer: (msg: AnswerForward) => void
}

/** The SDK's rule: the first 20 bytes of SHA-256(swarm name), as a binary string. */
export function infoHashOf(swarm: string): string {
  return toBinaryString(createHash('sha256').update(swarm, 'utf8').digest().subarray(0, 20))
}

/** A 20-byte peer id with an Azureus-style tag, as binary string. */
export function randomPeerId(tag = '-HP0001-'): string {
  return tag + toBinaryString(randomBytes(20 - tag.length))
}

const OPEN_TIMEOUT_MS = 5000

export class TrackerSignaller {
  readonly infoHash: string
  readonly peerId = randomPeerId()
  readonly #init: SignallerInit
  #ws: WebSocket | undefined

  constructor(init: SignallerInit) {
    this.#init = init
    this.infoHash = infoHashOf(init.swarm)
  }

  async open(): Promise<void> {
    const ws = (this.#ws = new WebSocket(this.#init.tracker))
    ws.on('message', data => this.#onMessage(String(data)))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`tracker ${this.#init.tracker} did not open in ${OPEN_TIMEOUT_MS} ms`)),
        OPEN_TIMEOUT_MS
      )
      ws.once('open', () => {
        clearTimeout(timer)
        resolve()
      })
      ws.once('error', err => {
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  /** Join (or refresh) with `offers`; numwant as the SDK sends it, the number of offers. */
  announce(offers: OfferEntry[] = [], event?: 'started' | 'stopped'): void {
    this.#send({
      action: 'announce',
      info_hash: this.infoHash,
      peer_id: this.peerId,
      numwant: offers.length,
      ...(event === undefined ? {} : { event }),
      region: this.#init.region,
      offers
    })
  }

  answer(to: OfferForward, sdp: string): void {
    this.#send({
      action: 'announce',
      info_hash: this.infoHash,
      peer_id: this.peerId,
      to_peer_id: to.peer_id,
      offer_id: to.offer_id,
      answer: { type: 'answer', sdp }
    })
  }

  /** Leave the swarm and close the socket; safe to call twice. */
  async close(): Promise<void> {
    const ws = this.#ws
    this.#ws = undefined
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) {
      ws?.terminate()
      return
    }
    this.announce([], 'stopped')
    const closed = new Promise<void>(resolve => ws.once('close', () => resolve()))
    ws.close(1000)
    // A tracker that never answers the close handshake must not hold the test.
    await Promise.race([closed, new Promise(resolve => setTimeout(resolve, 1000))])
    ws.terminate()
  }

  #send(msg: ClientMessage): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(msg))
  }

  #onMessage(raw: string): void {
    let msg
    try {
      msg = parseTrackerMessage(raw)
    } catch {
      return
    }
    if ('failure reason' in msg || msg.action !== 'announce' || msg.info_hash !== this.infoHash) return
    if ('offer' in msg) this.#init.onOffer(msg)
    else if ('answer' in msg) this.#init.onAnswer(msg)
  }
}
