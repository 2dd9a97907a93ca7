/**
 * One write per socket per event-loop turn, when the tracker is busy.
 *
 * Under load one poll phase handles many announces, and each sends up to six messages
 * (the reply and five forwarded offers) to random sockets of a swarm: several land on the
 * same socket in one turn. Every `ws.send` is a syscall of its own, and on a busy
 * tracker those syscalls are most of the CPU (measured: `writev` was 41% of the profile
 * of the offers bench). Corking a socket at its first message of a turn and uncorking
 * all of them once the poll phase is over (`setImmediate`) turns those into one
 * `writev` per socket, as uWebSockets does.
 *
 * Holding a reply until the end of the turn costs it the rest of the turn, which a quiet
 * tracker need not pay (measured at 1,000 announces/s: p50 0.4 ms without, 0.6 ms with).
 * So a turn writes through until it has carried `busyMessages`, and corks from there on,
 * or from its start when the turn before was busy.
 */
import type { Duplex } from 'node:stream'

/** Messages in one turn from which the tracker counts as busy. */
export const BUSY_MESSAGES = 16

export class TurnCork {
  readonly #busyMessages: number
  readonly #corked: Duplex[] = []
  /** Messages held or written through in this turn so far. */
  #messages = 0
  #busy = false
  #scheduled = false
  readonly #endTurn = (): void => {
    this.#scheduled = false
    this.#busy = this.#messages >= this.#busyMessages
    this.#messages = 0
    for (const socket of this.#corked.splice(0)) socket.uncork()
  }

  constructor(busyMessages = BUSY_MESSAGES) {
    this.#busyMessages = busyMessages
  }

  /** Call before each write to `socket`: on a busy turn its writes wait for the turn's end. */
  hold(socket: Duplex): void {
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(this.#endTurn)
    }
    this.#messages++
    if (!this.#busy && this.#messages <= this.#busyMessages) return
    if (socket.writableCorked > 0 || socket.destroyed) return
    socket.cork()
    this.#corked.push(socket)
  }
}
