/**
 * What the primary and the workers of `p2pcdn edge --workers N` say to each other over
 * the cluster's IPC channel. Every message is `{ t: 'p2pcdn:…' }`; anything else on the
 * channel (prom-client's metric requests) is someone else's and ignored.
 */
import type { DiskIndexItem, DiskIndexRecord } from '../cache/disk-index.js'
import type { Invalidation } from '../cache/cache.js'

/** The counters a worker reports each second, summed by the primary for the tracker. */
export interface WorkerLoad {
  connections: number
  bytesServed: number
  hits: number
  misses: number
}

export type WorkerMessage =
  | { t: 'p2pcdn:open'; seq: number }
  | { t: 'p2pcdn:added'; record: DiskIndexRecord }
  | { t: 'p2pcdn:touched'; record: DiskIndexRecord }
  | { t: 'p2pcdn:removed'; id: string }
  | { t: 'p2pcdn:lock'; seq: number; id: string }
  | { t: 'p2pcdn:unlock'; id: string }
  | { t: 'p2pcdn:metrics'; seq: number }
  | { t: 'p2pcdn:invalidate'; what: Invalidation }
  | { t: 'p2pcdn:load'; load: WorkerLoad }

export type PrimaryMessage =
  | { t: 'p2pcdn:opened'; seq: number; items: DiskIndexItem[]; bytes: number; entries: number }
  | { t: 'p2pcdn:locked'; seq: number; leader: boolean }
  | { t: 'p2pcdn:metrics'; seq: number; text: string }
  | { t: 'p2pcdn:evicted'; id: string; bytes: number; entries: number }
  | { t: 'p2pcdn:learned'; item: DiskIndexItem; bytes: number; entries: number }
  | { t: 'p2pcdn:invalidate'; what: Invalidation }
  | { t: 'p2pcdn:stop' }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null
const isString = (v: unknown): v is string => typeof v === 'string'

function isRecord(v: unknown): v is DiskIndexRecord {
  return (
    isObject(v) &&
    isString(v.id) &&
    isString(v.key) &&
    isString(v.variant) &&
    Array.isArray(v.vary) &&
    v.vary.every(isString) &&
    typeof v.cost === 'number' &&
    Number.isFinite(v.cost) &&
    v.cost >= 0
  )
}

function isInvalidation(v: unknown): v is Invalidation {
  return isObject(v) && (isString(v.key) || isString(v.prefix))
}

/**
 * A worker's message, or undefined for anything that is not one of ours. Workers run our
 * own code, but a bad message must cost one message, not the primary.
 */
export function parseWorkerMessage(raw: unknown): WorkerMessage | undefined {
  if (!isObject(raw) || !isString(raw.t) || !raw.t.startsWith('p2pcdn:')) return undefined
  const seqOk = Number.isSafeInteger(raw.seq)
  switch (raw.t) {
    case 'p2pcdn:open':
    case 'p2pcdn:metrics':
      return seqOk ? (raw as WorkerMessage) : undefined
    case 'p2pcdn:added':
    case 'p2pcdn:touched':
      return isRecord(raw.record) ? (raw as WorkerMessage) : undefined
    case 'p2pcdn:removed':
    case 'p2pcdn:unlock':
      return isString(raw.id) ? (raw as WorkerMessage) : undefined
    case 'p2pcdn:lock':
      return seqOk && isString(raw.id) ? (raw as WorkerMessage) : undefined
    case 'p2pcdn:invalidate':
      return isInvalidation(raw.what) ? (raw as WorkerMessage) : undefined
    case 'p2pcdn:load': {
      const load = raw.load
      const ok =
        isObject(load) &&
        ['connections', 'bytesServed', 'hits', 'misses'].every(
          k => typeof load[k] === 'number' && Number.isFinite(load[k])
        )
      return ok ? (raw as WorkerMessage) : undefined
    }
  }
  return undefined
}

/** The primary's message, or undefined for anything else on the channel. */
export function parsePrimaryMessage(raw: unknown): PrimaryMessage | undefined {
  if (!isObject(raw) || !isString(raw.t) || !raw.t.startsWith('p2pcdn:')) return undefined
  return raw as PrimaryMessage
}
