/**
 * Fair queueing of origin requests by client: at most `concurrency` run at once (the
 * origin pool's sockets), and a free slot goes to the next client in turn, not to the
 * oldest request. So one client's flood of misses waits behind itself while every other
 * client's miss waits for one slot at most. One client also holds at most
 * `maxRunningPerClient` slots, so clients that never read the bodies they asked for
 * (which keeps origin sockets busy) cannot take them all. Each client's queue, and the
 * whole queue, are bounded: past them a request is refused at once.
 */

export class QueueFullError extends Error {
  readonly code = 'EDGE_QUEUE_FULL'
}

export interface FairQueueInit {
  concurrency: number
  /** Slots one client may hold at once. */
  maxRunningPerClient: number
  /** Requests one client may have waiting. */
  maxQueuedPerClient: number
  /** Requests waiting across all clients. */
  maxQueued: number
}

export interface FairQueue {
  /** Resolves with a release function once a slot is this client's; rejects with `QueueFullError`. */
  acquire: (client: string) => Promise<() => void>
  readonly running: number
  readonly queued: number
}

export function createFairQueue(init: FairQueueInit): FairQueue {
  // Clients with waiters, in turn order (Map keeps insertion order; a served client goes to the back).
  const waiting = new Map<string, Array<(release: () => void) => void>>()
  const runningBy = new Map<string, number>()
  let running = 0
  let queued = 0

  const canRun = (client: string): boolean => (runningBy.get(client) ?? 0) < init.maxRunningPerClient
  const grant = (client: string): (() => void) => {
    running++
    runningBy.set(client, (runningBy.get(client) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      running--
      const left = (runningBy.get(client) ?? 1) - 1
      if (left === 0) runningBy.delete(client)
      else runningBy.set(client, left)
      next()
    }
  }
  const next = (): void => {
    if (running >= init.concurrency) return
    for (const [client, list] of waiting) {
      if (running >= init.concurrency) break
      if (!canRun(client)) continue
      const wake = list.shift()
      waiting.delete(client)
      if (list.length > 0) waiting.set(client, list)
      queued--
      wake?.(grant(client))
    }
  }

  return {
    get running() {
      return running
    },
    get queued() {
      return queued
    },
    async acquire(client) {
      if (running < init.concurrency && !waiting.has(client) && canRun(client)) return grant(client)
      const list = waiting.get(client) ?? []
      if (list.length >= init.maxQueuedPerClient || queued >= init.maxQueued) {
        throw new QueueFullError(
          `too many origin requests waiting${list.length >= init.maxQueuedPerClient ? ' from this client' : ''}`
        )
      }
      queued++
      if (list.length === 0) waiting.set(client, list)
      return await new Promise(resolve => list.push(resolve))
    }
  }
}
