/**
 * One write per socket per event-loop turn.
 *
 * Under load one poll phase handles many announces, and each sends up to six messages
 * (the reply and five forwarded offers) to random sockets of a swarm: several land on the
 * same socket in one turn. Every `ws.send` is a syscall of its own, and on a busy
 * tracker those syscalls are most of the CPU (measured: `writev` was 41% of the profile
 * of the offers bench). Corking a socket at its first message of a turn and uncorking
 * all of them once the poll phase is over (`setImmediate`) turns those into one
 * `writev` per socket, as uWebSockets does. An idle tracker handles one message per
 * turn, so the only delay added is the rest of the current turn.
 */
import type { Duplex } from 'node:stream'

export class TurnCork {
  readonly #corked: Duplex[] = []
  readonly #flush = (): void => {
    // Uncork reads `corked` before the loop sees new entries: a write during uncork
    // (none in practice) is corked again for the next turn, not lost.
    const sockets = this.#corked.splice(0)
    for (const socket of sockets) socket.uncork()
  }

  /** Holds `socket`'s writes until the end of this turn. Call before each write. */
  hold (socket: Duplex): void {
    if (socket.writableCorked > 0 || socket.destroyed) return
    socket.cork()
    if (this.#corked.push(socket) === 1) setImmediate(this.#flush)
  }
}
