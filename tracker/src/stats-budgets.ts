/** The byte and connection budgets that bound what a socket's stats reports may claim (handlers/stats.ts). */
import { createBucket } from './budget.js'
import type { Bucket } from './budget.js'
import type { AddressState, Connection } from './connection.js'

/** A bucket holds at most this many seconds of its rate: a socket idle for an hour cannot claim an hour at once. */
export const STATS_BURST_S = 120
/** Connection attempts a socket may claim per second, on average (a tab keeps 8 connections by default). */
export const STATS_CONNECTIONS_PER_SECOND = 2
/** Connection attempts a socket may claim as soon as it opens: a tab's first peers connect within a second. */
export const STATS_CONNECTIONS_AT_OPEN = 16

export interface SocketBudget {
  bytes: Bucket
  connections: Bucket
  lastReportMs: number
}

/** Budgets per socket and per address; weak, so they go with their connection. */
export class StatsBudgets {
  readonly #sockets = new WeakMap<Connection, SocketBudget>()
  readonly #addresses = new WeakMap<AddressState, Bucket>()

  /** A socket opened: its budget (and its address's, when new) starts empty now. */
  opened(conn: Connection, nowMs: number): void {
    this.#sockets.set(conn, {
      bytes: createBucket(0, nowMs),
      connections: createBucket(STATS_CONNECTIONS_AT_OPEN, nowMs),
      lastReportMs: -Infinity
    })
    if (!this.#addresses.has(conn.address)) this.#addresses.set(conn.address, createBucket(0, nowMs))
  }

  socket(conn: Connection, nowMs: number): SocketBudget {
    let budget = this.#sockets.get(conn)
    if (budget === undefined) {
      this.opened(conn, nowMs)
      budget = this.#sockets.get(conn)!
    }
    return budget
  }

  address(conn: Connection, nowMs: number): Bucket {
    let bucket = this.#addresses.get(conn.address)
    if (bucket === undefined) this.#addresses.set(conn.address, (bucket = createBucket(0, nowMs)))
    return bucket
  }
}
