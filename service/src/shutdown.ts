/**
 * Graceful shutdown of an HTTP(S) server: stop accepting, let the requests in flight
 * finish for up to a bound, then cut what is left. Connections with no request in flight
 * (keep-alive between requests) are closed at once, and each other one as soon as its
 * last response is done.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

/** How long a service waits for requests in flight on shutdown, by default. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5000

export interface ConnectionTracker {
  /** Open client connections (upgraded ones, e.g. WebSockets, excluded). */
  readonly connections: number
  /**
   * Close the server gracefully, waiting at most `graceMs` for requests in flight. Resolves
   * once it is closed, with how many connections the bound cut. Safe to call twice.
   */
  close: (graceMs: number) => Promise<{ cut: number }>
}

/**
 * Node's own mark of a connection with a response in flight: `_httpMessage` is the
 * response being written (set while a request is handled, cleared when it finishes,
 * then set to the next pipelined one). Reading it rather than counting with a listener
 * per request keeps the hot path at one `request` listener.
 */
type HttpSocket = Duplex & { _httpMessage?: ServerResponse | null }

const busy = (socket: HttpSocket): ServerResponse | undefined => socket._httpMessage ?? undefined

/** Start tracking `server`'s connections; call before it listens. */
export function trackConnections(server: Server, secure: boolean): ConnectionTracker {
  const open = new Set<HttpSocket>()
  let closing: Promise<{ cut: number }> | undefined

  // Over TLS the requests' socket is the TLS one, which `secureConnection` gives.
  server.on(secure ? 'secureConnection' : 'connection', (socket: Duplex) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
  })
  // An upgraded socket belongs to its new protocol, which closes it its own way.
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    open.delete(socket)
  })

  /** While closing: end the connection once its last response is done (end(), so its bytes go out before the FIN). */
  const endWhenIdle = (socket: HttpSocket): void => {
    const res = busy(socket)
    if (res === undefined) {
      socket.end()
      return
    }
    // A pipelined response is assigned before this one's `close`: look again then.
    res.once('close', () => endWhenIdle(socket))
  }

  const close = async (graceMs: number): Promise<{ cut: number }> => {
    // Requests that still arrive on open connections are the last on theirs.
    server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
      res.setHeader('connection', 'close')
    })
    const closed = new Promise<void>(resolve => {
      if (server.listening) server.close(() => resolve())
      else resolve()
    })
    for (const socket of open) endWhenIdle(socket)
    let cut = 0
    const bound = setTimeout(() => {
      for (const socket of open) {
        if (busy(socket) !== undefined) cut++
        socket.destroy()
      }
      server.closeAllConnections()
    }, graceMs)
    await closed
    clearTimeout(bound)
    return { cut }
  }

  return {
    get connections() {
      return open.size
    },
    close(graceMs) {
      closing ??= close(graceMs)
      return closing
    }
  }
}
