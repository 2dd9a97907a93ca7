/**
 * Keeps the edge registered with the tracker: register on connect, report load every
 * `heartbeatMs` the tracker asks for, reconnect with exponential backoff and jitter
 * whenever the socket goes away.
 */
import WebSocket from 'ws'
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION, backoffDelayMs, parseTrackerMessage } from '../../protocol/src/index.js'
import type { EdgeLoad, EdgeLoadRequest, EdgeRegisterRequest, Logger, RefusalReason } from '../../protocol/src/index.js'

/** The tracker's `reason` for a load report from a connection it no longer lists. */
const NOT_REGISTERED: RefusalReason = 'edge-not-registered'

export const RECONNECT_BACKOFF = { minMs: 500, maxMs: 30_000 }
/** Without a registration reply by then the socket is presumed dead and replaced. */
export const REGISTER_TIMEOUT_MS = 10_000
/** Floor for the tracker-chosen heartbeat, so a bad reply cannot make us spin. */
const MIN_HEARTBEAT_MS = 50

export interface TrackerLinkInit {
  tracker: string
  /** Extra PEM CA to trust for a `wss://` tracker; undefined = Node's default roots only. */
  ca?: string | Buffer
  /** This edge's id in the tracker's edges file; then `token` is its own secret. */
  id?: string
  /** The edge's own secret (with `id`) or the tracker's shared token. */
  token: string
  /** Public base URL of this edge. */
  url: string
  region: string
  /** Bytes per second the edge can serve; 0 = unknown. */
  capacity: number
  /** Current load, sampled at each heartbeat. */
  load: () => EdgeLoad
  logger: Logger
}

export interface TrackerLink {
  start: () => void
  /** Closes the socket and clears every timer. Safe to call twice. */
  stop: () => void
  readonly registered: boolean
}

export function createTrackerLink(init: TrackerLinkInit): TrackerLink {
  const { logger: log } = init
  let ws: WebSocket | undefined
  let registered = false
  let stopped = true
  let attempt = 0
  let reconnectTimer: NodeJS.Timeout | undefined
  let heartbeatTimer: NodeJS.Timeout | undefined
  let registerTimer: NodeJS.Timeout | undefined

  const clearSocketTimers = (): void => {
    clearInterval(heartbeatTimer)
    clearTimeout(registerTimer)
    heartbeatTimer = undefined
    registerTimer = undefined
  }

  const sendJson = (socket: WebSocket, msg: EdgeRegisterRequest | EdgeLoadRequest): void => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg))
  }

  /** Ask to be listed; a socket that gets no answer in time is dropped and redialled. */
  const register = (socket: WebSocket): void => {
    const identity = init.id === undefined ? {} : { id: init.id }
    sendJson(socket, {
      action: 'p2pcdn:edge-register',
      v: PROTOCOL_VERSION,
      ...identity,
      token: init.token,
      url: init.url,
      region: init.region,
      capacity: init.capacity
    })
    clearTimeout(registerTimer)
    registerTimer = setTimeout(() => {
      log.warn('tracker-register-timeout', { tracker: init.tracker })
      socket.terminate()
    }, REGISTER_TIMEOUT_MS)
  }

  const connect = (): void => {
    const socket = new WebSocket(init.tracker, {
      maxPayload: MAX_MESSAGE_BYTES,
      handshakeTimeout: REGISTER_TIMEOUT_MS,
      ca: init.ca
    })
    ws = socket
    socket.on('open', () => {
      log.info('tracker-connected', { tracker: init.tracker })
      register(socket)
    })
    socket.on('message', (data, isBinary) => {
      if (isBinary) return
      // ws's default binaryType ('nodebuffer') delivers every message as one Buffer.
      onMessage(socket, (data as Buffer).toString())
    })
    socket.on('error', err => log.warn('tracker-socket-error', { tracker: init.tracker, error: err.message }))
    socket.on('close', code => {
      if (ws !== socket) return
      ws = undefined
      clearSocketTimers()
      if (registered) log.warn('tracker-disconnected', { tracker: init.tracker, code })
      registered = false
      scheduleReconnect()
    })
  }

  const onMessage = (socket: WebSocket, raw: string): void => {
    let msg
    try {
      msg = parseTrackerMessage(raw)
    } catch (err) {
      log.warn('tracker-bad-message', { error: String(err) })
      return
    }
    if ('failure reason' in msg) {
      // `reason` stays the tracker's prose, as logged before; `refusal` is its code for it.
      log.error('tracker-failure', {
        reason: msg['failure reason'],
        code: msg.code,
        refusal: msg.reason,
        action: msg.action
      })
      // A refused registration (wrong token, say) is retried with growing backoff.
      if (!registered) socket.close()
      else if (msg.reason === NOT_REGISTERED) {
        // The tracker dropped us (heartbeats late, e.g. after a long pause): register
        // again on this socket rather than report load nobody lists.
        registered = false
        clearInterval(heartbeatTimer)
        log.warn('tracker-dropped-edge', { tracker: init.tracker })
        register(socket)
      }
      return
    }
    if (msg.action !== 'p2pcdn:edge-registered') return
    clearTimeout(registerTimer)
    const heartbeatMs = Math.max(MIN_HEARTBEAT_MS, msg.heartbeatMs)
    if (!registered) log.info('tracker-registered', { tracker: init.tracker, heartbeatMs })
    registered = true
    attempt = 0
    clearInterval(heartbeatTimer)
    heartbeatTimer = setInterval(() => {
      sendJson(socket, { action: 'p2pcdn:edge-load', v: PROTOCOL_VERSION, ...init.load() })
    }, heartbeatMs)
  }

  const scheduleReconnect = (): void => {
    if (stopped) return
    const delay = backoffDelayMs(attempt++, RECONNECT_BACKOFF)
    log.debug('tracker-reconnect', { inMs: Math.round(delay), attempt })
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined
      connect()
    }, delay)
  }

  return {
    get registered() {
      return registered
    },
    start() {
      if (!stopped) return
      stopped = false
      connect()
    },
    stop() {
      if (stopped) return
      stopped = true
      clearTimeout(reconnectTimer)
      reconnectTimer = undefined
      clearSocketTimers()
      registered = false
      const socket = ws
      ws = undefined
      socket?.terminate()
    }
  }
}
