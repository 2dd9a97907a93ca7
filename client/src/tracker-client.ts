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
  failure: FailureResponse
}

const RECONNECT_BACKOFF = { minMs: 1000, maxMs: 60_000 }
const EDGES_TIMEOUT_MS = 3000

/**
 * One WebSocket to the tracker. Reconnects with exponential backoff and jitter, so a
 * restarted tracker is not stampeded.
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
      const timer = setTimeout(() => {
        off()
        resolve([])
      }, EDGES_TIMEOUT_MS)
      const off = this.on('edges', edges => {
        clearTimeout(timer)
        off()
        resolve(edges)
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
      this.#attempt = 0
      this.emit('open', undefined)
    }
    ws.onmessage = e => {
      if (typeof e.data === 'string') this.#onMessage(e.data)
    }
    ws.onclose = () => {
      this.#ws = undefined
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
    if ('failure reason' in msg) this.emit('failure', msg)
    else if (msg.action === 'p2pcdn:edges') this.emit('edges', msg.edges)
    else if (msg.action === 'announce') {
      if ('offer' in msg) this.emit('offer', msg)
      else if ('answer' in msg) this.emit('answer', msg)
      else this.emit('announce', msg)
    }
  }
}
