/**
 * The cache the handlers use: a memory LRU in front of an optional disk store, plus the
 * key → `Vary` index that turns a request into the id of its variant (RFC 9111 §4.1).
 *
 * Disk writes run in the background so a fill is served as soon as it is in memory;
 * writes and deletes of one id run in order, and `close()` waits for them.
 */
import type { Logger } from '../../../protocol/src/index.js'
import type { DiskStore } from './disk-store.js'
import type { MemoryStore } from './memory-store.js'
import type { HeaderBag } from './policy.js'
import type { CacheEntry } from './store.js'
import { entryId } from './store.js'

export interface CacheInit {
  memory: MemoryStore
  disk?: DiskStore
  logger: Logger
}

export interface Cache {
  /** The variant id a request maps to, given the `Vary` last stored for `key`. */
  idFor: (key: string, req: HeaderBag) => string
  /** Memory only, synchronous: the hit path. */
  peek: (id: string) => CacheEntry | undefined
  get: (id: string) => Promise<CacheEntry | undefined>
  put: (entry: CacheEntry) => Promise<void>
  /** Changes each time `key` is invalidated: a fill that started before must not store. */
  epochOf: (key: string) => number
  /** Remove every variant of `key`. Returns how many the index knew. */
  invalidate: (key: string) => Promise<number>
  /** Remove every key starting with `prefix`. Returns how many variants went. */
  purgePrefix: (prefix: string) => Promise<number>
  /** Open the disk store and rebuild the index. Returns entries found. */
  open: () => Promise<number>
  close: () => Promise<void>
  readonly memoryBytes: number
  readonly diskBytes: number
  readonly entries: number
}

/** Invalidated keys remembered so in-flight fills do not resurrect them. */
const MAX_TRACKED_INVALIDATIONS = 100_000

/** Fills always ask for identity encoding, so the client's Accept-Encoding never selects a variant. */
const IGNORED_VARY = new Set(['accept-encoding'])

/** Serialize the request's values of the `Vary` fields (§4.1: combine lines, normalize whitespace). */
export function variantOf (vary: readonly string[], req: HeaderBag): string {
  if (vary.length === 0) return ''
  let out = ''
  for (const name of vary) {
    if (IGNORED_VARY.has(name)) continue
    const raw = req[name]
    const value = raw === undefined ? '' : (Array.isArray(raw) ? raw.join(',') : raw).replace(/\s*,\s*/g, ',').replace(/\s+/g, ' ').trim()
    out += `${name}:${value}\n`
  }
  return out
}

export function createCache (init: CacheInit): Cache {
  const { memory, disk, logger } = init
  const index = new Map<string, { vary: string[], ids: Set<string> }>()
  const pending = new Set<Promise<void>>()
  const lastWrite = new Map<string, Promise<void>>()

  const track = (id: string, write: () => Promise<void>): void => {
    const previous = lastWrite.get(id) ?? Promise.resolve()
    const p = previous.then(write).catch(err => logger.error('disk-write-failed', { id, error: String(err) }))
    lastWrite.set(id, p)
    pending.add(p)
    void p.finally(() => {
      pending.delete(p)
      if (lastWrite.get(id) === p) lastWrite.delete(id)
    })
  }
  const remember = (key: string, variant: string, vary: string[]): void => {
    const known = index.get(key)
    if (known === undefined) {
      index.set(key, { vary, ids: new Set([entryId(key, variant)]) })
      return
    }
    known.vary = vary
    known.ids.add(entryId(key, variant))
  }
  const removeId = async (id: string): Promise<void> => {
    await memory.delete(id)
    if (disk !== undefined) track(id, async () => await disk.delete(id))
  }

  // key → epoch of its last invalidation; dropped whole if it ever grows past a bound.
  const invalidatedAt = new Map<string, number>()
  let epoch = 0

  const invalidate = async (key: string): Promise<number> => {
    if (invalidatedAt.size >= MAX_TRACKED_INVALIDATIONS) invalidatedAt.clear()
    invalidatedAt.set(key, ++epoch)
    const known = index.get(key)
    index.delete(key)
    const ids = known === undefined ? [key] : [...known.ids]
    for (const id of ids) await removeId(id)
    return known?.ids.size ?? 0
  }

  return {
    get memoryBytes () { return memory.bytes },
    get diskBytes () { return disk?.bytes ?? 0 },
    get entries () {
      let n = 0
      for (const known of index.values()) n += known.ids.size
      return n
    },
    idFor (key, req) {
      const known = index.get(key)
      return known === undefined || known.vary.length === 0 ? key : entryId(key, variantOf(known.vary, req))
    },
    peek: id => memory.peek(id),
    epochOf: key => invalidatedAt.get(key) ?? 0,
    async get (id) {
      const hot = memory.peek(id)
      if (hot !== undefined || disk === undefined) return hot
      await lastWrite.get(id)
      const cold = await disk.get(id)
      if (cold !== undefined) await memory.put(cold)
      return cold
    },
    async put (entry) {
      const id = entryId(entry.key, entry.variant)
      const known = index.get(entry.key)
      // A new Vary makes the old variants unreachable: drop them now rather than at eviction.
      if (known !== undefined && known.vary.join() !== entry.vary.join()) {
        for (const old of known.ids) if (old !== id) await removeId(old)
        known.ids.clear()
      }
      remember(entry.key, entry.variant, entry.vary)
      await memory.put(entry)
      if (disk !== undefined) track(id, async () => await disk.put(entry))
    },
    invalidate,
    async purgePrefix (prefix) {
      let n = 0
      for (const key of [...index.keys()]) if (key.startsWith(prefix)) n += await invalidate(key)
      return n
    },
    async open () {
      if (disk === undefined) return 0
      const found = await disk.open()
      for (const item of found) remember(item.key, item.variant, item.vary)
      return found.length
    },
    async close () {
      while (pending.size > 0) await Promise.all([...pending])
      await memory.close()
      await disk?.close()
    }
  }
}
