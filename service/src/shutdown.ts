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

/** Start tracking `server`'s connections; call before it listens. */
export function trackConnections(server: Server, secure: boolean): ConnectionTracker {
  /** Open connections and how many requests each has in flight. */
  const inFlight = new Map<Duplex, number>()
  let closing: Promise<{ cut: number }> | undefined

  // Over TLS the requests' socket is the TLS one, which `secureConnection` gives.
  server.on(secure ? 'secureConnection' : 'connection', (socket: Duplex) => {
    inFlight.set(socket, 0)
    socket.once('close', () => inFlight.delete(socket))
  })
  // An upgraded socket belongs to its new protocol, which closes it its own way.
  server.on('upgrade', (_req: IncomingMessage, socket: Duplex) => {
    inFlight.delete(socket)
  })
  // First, so that the count is up before a handler can answer (and the answer end).
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1)
    if (closing !== undefined) res.setHeader('connection', 'close')
    res.once('close', () => {
      const requests = inFlight.get(socket)
      if (requests === undefined) return
      inFlight.set(socket, requests - 1)
      // end(), not destroy(): the last response's bytes still go out before the FIN.
      if (closing !== undefined && requests === 1) socket.end()
    })
  })

  const close = async (graceMs: number): Promise<{ cut: number }> => {
    const closed = new Promise<void>(resolve => {
      if (server.listening) server.close(() => resolve())
      else resolve()
    })
    for (const [socket, requests] of inFlight) if (requests === 0) socket.end()
    let cut = 0
    const bound = setTimeout(() => {
      for (const [socket, requests] of inFlight) {
        if (requests > 0) cut++
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
      return inFlight.size
    },
    close(graceMs) {
      closing ??= close(graceMs)
      return closing
    }
  }
}
