import type { TrackerMessage } from '../../protocol/src/index.js'

/**
 * What handlers know about one WebSocket: enough to reply and to clean up, nothing of the
 * socket itself. The server keeps one per socket in a `Map<WebSocket, Connection>`.
 */
export interface Connection {
  /** Sequence number for logs. */
  readonly id: number
  /**
   * The swarms this socket announced in: info_hash → peer ids it used there. Several
   * bittorrent-tracker clients in one page share one socket, each with its own peer id.
   */
  readonly swarms: Map<string, Set<string>>
  /** Region of the latest announce that named one; the default for `p2pcdn:edges`. */
  region: string | undefined
  /** Send if the socket is still open; otherwise drop the message (debug log). */
  send: (message: TrackerMessage) => void
}
