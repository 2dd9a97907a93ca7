/** The `Connection` of one WebSocket, as the server keeps it in its `Map<WebSocket, SocketConnection>`. */
import type { Duplex } from 'node:stream'
import { WebSocket } from 'ws'
import type { TrackerMessage } from '../../protocol/src/index.js'
import type { BacklogSocket, SendBacklog } from './backlog.js'
import { AnswerCredits } from './budget.js'
import type { Bucket } from './budget.js'
import type { AddressState, Connection, PeerIds } from './connection.js'
import type { TurnCork } from './turn-cork.js'

/**
 * A connection and its socket. A class, not an object literal with closures, because there
 * is one per peer and prototype methods cost no memory per instance.
 */
export class SocketConnection implements Connection, BacklogSocket {
  readonly swarms = new Map<string, PeerIds>()
  region: string | undefined = undefined
  throttled = false
  /** Answered the last ping (or sent something) since the previous tick. */
  alive = true
  readonly answerCredits = new AnswerCredits()

  constructor(
    readonly socket: WebSocket,
    /** The TCP (or TLS) stream under `socket`, corked on busy turns by `turnCork`. */
    private readonly stream: Duplex,
    private readonly turnCork: TurnCork,
    private readonly backlog: SendBacklog<SocketConnection>,
    readonly id: number,
    readonly ip: string,
    readonly address: AddressState,
    readonly mappedRegion: string | undefined,
    readonly asn: number | undefined,
    readonly bucket: Bucket
  ) {}

  get backlogged(): boolean {
    return this.backlog.isLagging(this)
  }

  send(message: TrackerMessage): void {
    this.sendText(JSON.stringify(message))
  }

  /** No callback: a failed send shows up as the socket's 'error' and 'close'. */
  sendText(text: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) return
    this.turnCork.hold(this.stream)
    this.socket.send(text)
    // Past the high-water mark the stream promises a 'drain'; until then, count it.
    if (this.stream.writableNeedDrain) this.backlog.note(this)
  }

  queuedBytes(): number {
    return this.socket.bufferedAmount
  }

  onceDrained(fn: () => void): void {
    this.stream.once('drain', fn)
  }
}
