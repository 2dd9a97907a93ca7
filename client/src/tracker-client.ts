import {
  backoffDelayMs,
  parseTrackerMessage,
  PROTOCOL_VERSION,
  type AnnounceResponse,
  type AnswerForward,
  type ClientMessage,
  type EdgeInfo,
  type FailureResponse,
  type OfferForward
} from '../../protocol/src/index.js'
import { Emitter } from './events.js'

export interface TrackerClientEvents {
  open: undefined
  close: undefined
  announce: AnnounceResponse
  offer: OfferForward
  answer: AnswerForward
  edges: EdgeInfo[]
  /** A failure reply (its `reason` from a p2pcdn tracker), or a 1008 close with its reason as the `failure reason`. */
  failure: FailureResponse
}

const RECONNECT_BACKOFF = { minMs: 1000, maxMs: 60_000 }
const EDGES_TIMEOUT_MS = 3000
/** WebSocket close code for a policy violation: the tracker refused the connection (too many from this address). */
const CLOSE_POLICY_VIOLATION = 1008

/**
 * One WebSocket to the tracker. Reconnects with exponential backoff and jitter (protocol's
 * `backoffDelayMs`), so a restarted tracker is not stampeded.
 * The backoff starts over once the tracker answers a request, not when a socket merely
 * opens: a tracker that accepts and then closes (1008, too many connections) is not
 * redialled every second. Refusals are `failure` events: the tracker's failure replies,
 * and a 1008 close with its reason.
 */
export class TrackerClient extends Emitter<TrackerClientEvents> {
  #ws: WebSocket | undefined
  #attempt = 0
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined
  #destroyed = false

  constructor(readonly url: string) {
    super()
    this.#connect()
  }

  get connected(): boolean {
    return this.#ws?.readyState === WebSocket.OPEN
  }

  send(message: ClientMessage): boolean {
    if (!this.connected) return false
    this.#ws!.send(JSON.stringify(message))
    return true
  }

  /** Resolves once the socket is open; false when it closes first or after `timeoutMs`. */
  async opened(timeoutMs: number): Promise<boolean> {
    if (this.connected) return true
    return await new Promise(resolve => {
      const done = (open: boolean): void => {
        clearTimeout(timer)
        offOpen()
        offClose()
        resolve(open)
      }
      const timer = setTimeout(() => done(false), timeoutMs)
      const offOpen = this.on('open', () => done(true))
      // A refused connection need not cost the whole timeout: edges and origin go on without it.
      const offClose = this.on('close', () => done(false))
    })
  }

  /** The tracker's healthy edges, nearest `region` first; [] when it does not answer. */
  async edges(region?: string): Promise<EdgeInfo[]> {
    if (!(await this.opened(EDGES_TIMEOUT_MS))) return []
    return await new Promise(resolve => {
      const done = (edges: EdgeInfo[]): void => {
        clearTimeout(timer)
        off()
        offFailure()
        resolve(edges)
      }
      const timer = setTimeout(() => done([]), EDGES_TIMEOUT_MS)
      const off = this.on('edges', done)
      // A refused list need not cost the whole timeout either.
      const offFailure = this.on('failure', f => {
        if (f.action === 'p2pcdn:edges') done([])
      })
      this.send({ action: 'p2pcdn:edges', v: PROTOCOL_VERSION, ...(region === undefined ? {} : { region }) })
    })
  }

  destroy(): void {
    if (this.#destroyed) return
    this.#destroyed = true
    clearTimeout(this.#reconnectTimer)
    const ws = this.#ws
    this.#ws = undefined
    if (ws !== undefined) {
      ws.onclose = null
      ws.close(1000)
    }
    this.removeAll()
  }

  #connect(): void {
    let ws: WebSocket
    try {
      ws = new WebSocket(this.url)
    } catch {
      this.#scheduleReconnect()
      return
    }
    this.#ws = ws
    ws.onopen = () => {
      this.emit('open', undefined)
    }
    ws.onmessage = e => {
      if (typeof e.data === 'string') this.#onMessage(e.data)
    }
    ws.onclose = e => {
      this.#ws = undefined
      if (e.code === CLOSE_POLICY_VIOLATION)
        this.emit('failure', { 'failure reason': e.reason === '' ? 'the tracker refused the connection' : e.reason })
      this.emit('close', undefined)
      this.#scheduleReconnect()
    }
  }

  #scheduleReconnect(): void {
    if (this.#destroyed) return
    this.#reconnectTimer = setTimeout(() => this.#connect(), backoffDelayMs(this.#attempt++, RECONNECT_BACKOFF))
  }

  #onMessage(raw: string): void {
    let msg
    try {
      msg = parseTrackerMessage(raw)
    } catch {
      return // a tracker bug or a newer protocol: nothing this client can act on
    }
    if ('failure reason' in msg) {
      this.emit('failure', msg)
      return
    }
    this.#attempt = 0 // the tracker serves us: the next outage starts the backoff over
    if (msg.action === 'p2pcdn:edges') this.emit('edges', msg.edges)
    else if (msg.action === 'announce') {
      if ('offer' in msg) this.emit('offer', msg)
      else if ('answer' in msg) this.emit('answer', msg)
      else this.emit('announce', msg)
    }
  }
}
