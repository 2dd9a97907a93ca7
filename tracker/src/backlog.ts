/**
 * Bounded memory for sockets that read slower than the tracker writes to them.
 *
 * What a socket has not taken yet stays in the tracker's memory: measured on a tracker
 * without this, one socket that stopped reading while 50 others sent it offers grew the
 * process by 1.5 GiB in 75 s, and it was never dropped because it still answered pings
 * now and then. So every socket whose unsent data passes its stream's high-water mark
 * (where Node's `write()` starts returning false and promises a 'drain') is tracked here
 * until it drains: over `maxPerSocketBytes` it is dropped; while the backlogs of all
 * sockets add up to more than `maxTotalBytes`, the largest is dropped; one that has not
 * drained for `stallMs` is dropped too. Sockets under the high-water mark are flushing
 * normally and hold at most that mark each, so they are not counted.
 *
 * The unsent data is `ws.bufferedAmount`: the stream's buffer, which also holds what the
 * per-turn write coalescing (`turn-cork.ts`) corked, plus ws's own queue.
 */

/** What the backlog needs of a socket. */
export interface BacklogSocket {
  /** Bytes written and not yet handed to the kernel. */
  queuedBytes: () => number
  /** Call `fn` once when the socket's write buffer has emptied. */
  onceDrained: (fn: () => void) => void
}

/** Why a socket was dropped; also the `reason` label of the rejects metric. */
export type BacklogDropReason = 'slow-reader' | 'backlog-total' | 'stalled'

interface Entry {
  /** Queued bytes when last looked at. */
  bytes: number
  /** When the socket passed its high-water mark without draining since. */
  sinceMs: number
  /** Still not drained at a sweep: not a turn's corked writes, a socket that lags. */
  lagging: boolean
}

export interface SendBacklogInit<S> {
  maxPerSocketBytes: number
  maxTotalBytes: number
  /** A socket backlogged this long without draining once is dropped. */
  stallMs: number
  /** Drop `socket`: it has been forgotten here already. */
  drop: (socket: S, reason: BacklogDropReason, bytes: number) => void
  now: () => number
}

export class SendBacklog<S extends BacklogSocket> {
  readonly #entries = new Map<S, Entry>()
  readonly #init: SendBacklogInit<S>
  #total = 0

  constructor(init: SendBacklogInit<S>) {
    this.#init = init
  }

  /** Bytes queued for backlogged sockets, as last looked at. */
  get totalBytes(): number {
    return this.#total
  }

  get size(): number {
    return this.#entries.size
  }

  has(socket: S): boolean {
    return this.#entries.has(socket)
  }

  /**
   * Over its high-water mark since before the last sweep. A turn's corked writes pass
   * the mark too (one 16 KiB offer does), but they drain within the turn; a socket that
   * has not drained by the next sweep is not keeping up.
   */
  isLagging(socket: S): boolean {
    return this.#entries.get(socket)?.lagging === true
  }

  /** After a write that left `socket` over its high-water mark. */
  note(socket: S): void {
    const bytes = socket.queuedBytes()
    let entry = this.#entries.get(socket)
    if (entry === undefined) {
      entry = { bytes: 0, sinceMs: this.#init.now(), lagging: false }
      this.#entries.set(socket, entry)
      socket.onceDrained(() => this.forget(socket))
    }
    this.#total += bytes - entry.bytes
    entry.bytes = bytes
    if (bytes > this.#init.maxPerSocketBytes) {
      this.#dropNow(socket, 'slow-reader')
      return
    }
    if (this.#total > this.#init.maxTotalBytes) this.#shed()
  }

  /** The socket drained or closed. Safe to call for a socket that is not here. */
  forget(socket: S): void {
    const entry = this.#entries.get(socket)
    if (entry === undefined) return
    this.#total -= entry.bytes
    this.#entries.delete(socket)
  }

  /** Periodically: re-read every backlog (the kernel took some meanwhile), drop stalled ones. */
  sweep(): void {
    const now = this.#init.now()
    for (const [socket, entry] of [...this.#entries]) {
      const bytes = socket.queuedBytes()
      this.#total += bytes - entry.bytes
      entry.bytes = bytes
      entry.lagging = true
      if (now - entry.sinceMs > this.#init.stallMs) this.#dropNow(socket, 'stalled')
    }
    if (this.#total > this.#init.maxTotalBytes) this.#shed()
  }

  /** Drop the largest backlogs until the total fits again. */
  #shed(): void {
    while (this.#total > this.#init.maxTotalBytes && this.#entries.size > 0) {
      let largest: S | undefined
      let most = -1
      for (const [socket, entry] of this.#entries) {
        if (entry.bytes > most) {
          most = entry.bytes
          largest = socket
        }
      }
      this.#dropNow(largest!, 'backlog-total')
    }
  }

  #dropNow(socket: S, reason: BacklogDropReason): void {
    const bytes = this.#entries.get(socket)?.bytes ?? 0
    this.forget(socket)
    this.#init.drop(socket, reason, bytes)
  }
}
