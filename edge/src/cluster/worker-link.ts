/**
 * A worker's side of `p2pcdn edge --workers N`: the disk index kept by the primary, fill
 * locks that let one worker fetch what several miss at once, invalidations passed on to
 * the other workers, `/metrics` for the whole cluster, and the load the primary reports
 * to the tracker. The primary's stop (or its death) stops this worker as SIGTERM would.
 */
import type { DiskIndex, DiskIndexItem } from '../cache/disk-index.js'
import type { Invalidation } from '../cache/cache.js'
import { parsePrimaryMessage } from './messages.js'
import type { PrimaryMessage, WorkerLoad, WorkerMessage } from './messages.js'

/**
 * How long a worker waits for another's fill of the same object before asking the origin
 * itself, as nginx's `proxy_cache_lock_timeout` (also 5 s).
 */
export const FILL_LOCK_WAIT_MS = 5000

/**
 * `leader`: this worker fills, and calls `release` once the entry is on disk (or will not
 * be). Otherwise another worker's fill ended (or the wait did): look on disk, then fill.
 */
export type FillLock = { leader: true; release: () => void } | { leader: false }

export interface WorkerLink {
  /** The disk index as the primary keeps it; `onEvict` hears of its evictions. */
  diskIndex: (onEvict: (id: string) => void) => DiskIndex
  lock: (id: string) => Promise<FillLock>
  /** Prometheus text of every worker's metrics, summed (prom-client `AggregatorRegistry`). */
  metrics: () => Promise<string>
  /** Pass an invalidation made here on to the other workers. */
  invalidated: (what: Invalidation) => void
  onInvalidate: (handler: (what: Invalidation) => void) => void
  /** Another worker stored this on disk. */
  onLearned: (handler: (item: DiskIndexItem) => void) => void
  reportLoad: (load: WorkerLoad) => void
}

/** How long a request to the primary may take before it is given up (the primary is busy or gone). */
const REPLY_TIMEOUT_MS = 30_000

export function connectWorkerLink(): WorkerLink {
  const send = (msg: WorkerMessage): void => {
    if (process.connected) process.send?.(msg)
  }
  let seq = 0
  const waiting = new Map<number, (msg: PrimaryMessage) => void>()
  const ask = async <T extends PrimaryMessage>(
    build: (seq: number) => WorkerMessage,
    ms: number
  ): Promise<T | undefined> => {
    const n = ++seq
    return await new Promise(resolve => {
      const timer = setTimeout(() => {
        waiting.delete(n)
        resolve(undefined)
      }, ms)
      waiting.set(n, msg => {
        clearTimeout(timer)
        waiting.delete(n)
        resolve(msg as T)
      })
      send(build(n))
    })
  }

  let bytes = 0
  let entries = 0
  let onEvict: (id: string) => void = () => {}
  let onInvalidate: (what: Invalidation) => void = () => {}
  let onLearned: (item: DiskIndexItem) => void = () => {}
  const stop = (): void => void process.emit('SIGTERM', 'SIGTERM')

  process.on('message', (raw: unknown) => {
    const msg = parsePrimaryMessage(raw)
    if (msg === undefined) return
    switch (msg.t) {
      case 'p2pcdn:opened':
      case 'p2pcdn:metrics':
        if (msg.t === 'p2pcdn:opened') ({ bytes, entries } = msg)
        waiting.get(msg.seq)?.(msg)
        return
      case 'p2pcdn:locked': {
        const waiter = waiting.get(msg.seq)
        // A lock granted after this worker stopped waiting for it: hand it straight back.
        if (waiter === undefined && msg.leader) lateGrants.get(msg.seq)?.()
        else waiter?.(msg)
        return
      }
      case 'p2pcdn:evicted':
        ;({ bytes, entries } = msg)
        onEvict(msg.id)
        return
      case 'p2pcdn:learned':
        ;({ bytes, entries } = msg)
        onLearned(msg.item)
        return
      case 'p2pcdn:invalidate':
        onInvalidate(msg.what)
        return
      case 'p2pcdn:stop':
        stop()
    }
  })
  // The primary is gone: nobody keeps the index or restarts us; stop as on SIGTERM.
  process.once('disconnect', stop)
  /** seq → release, for lock requests that timed out here but may still be granted. */
  const lateGrants = new Map<number, () => void>()

  return {
    diskIndex(evicted) {
      onEvict = evicted
      return {
        async open() {
          const reply = await ask<Extract<PrimaryMessage, { t: 'p2pcdn:opened' }>>(
            n => ({ t: 'p2pcdn:open', seq: n }),
            REPLY_TIMEOUT_MS
          )
          if (reply === undefined) throw new Error('the cluster primary did not send the disk index')
          return reply.items
        },
        // Any worker may have written it: always worth a read.
        has: () => true,
        added: async record => send({ t: 'p2pcdn:added', record }),
        touched: (id, record) => send({ t: 'p2pcdn:touched', record: { ...record, id } }),
        missing: () => {},
        removed: id => send({ t: 'p2pcdn:removed', id }),
        get bytes() {
          return bytes
        },
        get size() {
          return entries
        },
        records: () => []
      }
    },
    async lock(id) {
      const n = seq + 1
      const release = (): void => send({ t: 'p2pcdn:unlock', id })
      lateGrants.set(n, release)
      const reply = await ask<Extract<PrimaryMessage, { t: 'p2pcdn:locked' }>>(
        s => ({ t: 'p2pcdn:lock', seq: s, id }),
        FILL_LOCK_WAIT_MS
      )
      // Kept a while for a grant that comes after the wait: it must be released, not held.
      if (reply !== undefined) lateGrants.delete(n)
      else setTimeout(() => lateGrants.delete(n), REPLY_TIMEOUT_MS).unref()
      if (reply?.leader === true) return { leader: true, release }
      return { leader: false }
    },
    async metrics() {
      const reply = await ask<Extract<PrimaryMessage, { t: 'p2pcdn:metrics' }>>(
        n => ({ t: 'p2pcdn:metrics', seq: n }),
        REPLY_TIMEOUT_MS
      )
      if (reply === undefined) throw new Error('the cluster primary did not send the metrics')
      return reply.text
    },
    invalidated: what => send({ t: 'p2pcdn:invalidate', what }),
    onInvalidate(handler) {
      onInvalidate = handler
    },
    onLearned(handler) {
      onLearned = handler
    },
    reportLoad: load => send({ t: 'p2pcdn:load', load })
  }
}
