import type { TrackerMessage } from '../../protocol/src/index.js'

/**
 * What handlers know about one WebSocket: enough to reply and to clean up, nothing of the
 * socket itself. The server keeps one per socket in a `Map<WebSocket, Connection>`.
 */
export interface Connection {
  /** Sequence number for logs. */
  readonly id: number
  /** Client address: the socket's, or the last `X-Forwarded-For` entry with `trustProxy`. */
  readonly ip: string
  /** Region from the CIDR map, which wins over what the client says; undefined when unmapped. */
  readonly mappedRegion: string | undefined
  /**
   * The swarms this socket announced in: info_hash → peer ids it used there. Several
   * bittorrent-tracker clients in one page share one socket, each with its own peer id.
   */
  readonly swarms: Map<string, Set<string>>
  /** Region of the latest announce; the default for `p2pcdn:edges`. */
  region: string | undefined
  /** Rate limit: messages this socket may still send now (a token bucket). */
  tokens: number
  /** When `tokens` was last topped up, from `Date.now()`. */
  refilledAtMs: number
  /** Already told that it is over its rate limit, until its bucket refills. */
  throttled: boolean
  /** Serialise and send if the socket is still open; otherwise drop the message. */
  send: (message: TrackerMessage) => void
  /** Send ready-made JSON text (the announce hot path builds replies by concatenation). */
  sendText: (text: string) => void
}

/** Most peer ids one socket may use in one swarm (a page with several clients sharing a socket). */
export const MAX_PEER_IDS_PER_SOCKET_SWARM = 8
