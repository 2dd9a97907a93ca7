/**
 * Fair queueing of origin requests by client: at most `concurrency` run at once (the
 * origin pool's sockets), and a free slot goes to the next client in turn, not to the
 * oldest request. So one client's flood of misses waits behind itself while every other
 * client's miss waits for one slot at most. Each client's queue, and the whole queue,
 * are bounded: past them a request is refused at once.
 */

export class QueueFullError extends Error {
  readonly code = 'EDGE_QUEUE_FULL'
}

export interface FairQueueInit {
  concurrency: number
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

export function createFairQueue (init: FairQueueInit): FairQueue {
  // Clients with waiters, in turn order (Map keeps insertion order; a served client goes to the back).
  const waiting = new Map<string, Array<(release: () => void) => void>>()
  let running = 0
  let queued = 0

  const grant = (): (() => void) => {
    running++
    let released = false
    return () => {
      if (released) return
      released = true
      running--
      next()
    }
  }
  const next = (): void => {
    while (running < init.concurrency && waiting.size > 0) {
      const [client, list] = waiting.entries().next().value as [string, Array<(release: () => void) => void>]
      const wake = list.shift()
      waiting.delete(client)
      if (list.length > 0) waiting.set(client, list)
      queued--
      wake?.(grant())
    }
  }

  return {
    get running () { return running },
    get queued () { return queued },
    async acquire (client) {
      if (running < init.concurrency && waiting.size === 0) return grant()
      const list = waiting.get(client) ?? []
      if (list.length >= init.maxQueuedPerClient || queued >= init.maxQueued) {
        throw new QueueFullError(`too many origin requests waiting${list.length >= init.maxQueuedPerClient ? ' from this client' : ''}`)
      }
      queued++
      if (list.length === 0) waiting.set(client, list)
      return await new Promise(resolve => list.push(resolve))
    }
  }
}
