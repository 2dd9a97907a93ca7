/**
 * The cache the handlers use: a memory LRU in front of an optional disk store, plus the
 * key → `Vary` index that turns a request into the id of its variant (RFC 9111 §4.1).
 * A variant is selected by the response's `Vary` and by the operator's key headers
 * (`cacheKeyHeaders`), the only request fields a fill forwards besides credentials.
 *
 * Disk writes run in the background so a fill is served as soon as it is in memory;
 * writes and deletes of one id run in order, and `close()` waits for them. The index
 * holds only ids some store holds: evictions remove them.
 */
import type { Logger, Now } from '../../../protocol/src/index.js'
import type { DiskStore } from './disk-store.js'
import type { MemoryStore } from './memory-store.js'
import { isFresh } from './policy.js'
import type { HeaderBag } from './policy.js'
import type { CacheEntry } from './store.js'
import { entryId } from './store.js'

export interface CacheInit {
  memory: MemoryStore
  disk?: DiskStore
  /** Request fields (lowercase) that are part of every key, as if every response varied on them. */
  keyHeaders: readonly string[]
  logger: Logger
  /** For whether a stored page is still fresh. */
  now: Now
  /**
   * Told of each invalidation made here (purge, unsafe method, a 304 that may not be
   * stored), so the other workers of a cluster drop their memory copies too.
   */
  onInvalidate?: (what: Invalidation) => void
}

/** What was invalidated: one key (every variant), or every key under a prefix. */
export type Invalidation = { key: string } | { prefix: string }

export interface Cache {
  /** The variant id a request maps to, given the `Vary` last stored for `key`. */
  idFor: (key: string, req: HeaderBag) => string
  /** Request fields that select a variant of `key`: the key headers and its last stored `Vary`. */
  keyFieldsOf: (key: string) => readonly string[]
  /** The variant string for these request headers under this `Vary`. */
  variantFor: (vary: readonly string[], req: HeaderBag) => string
  /**
   * A response for `key` varies on `vary`: from now on requests map to variants of it,
   * before the response is complete and stored (its fill's other clients are told apart).
   */
  learnVary: (key: string, vary: string[]) => Promise<void>
  /** A fill of `key` ended without storing: drop what `learnVary` kept if nothing else is stored. */
  forgetIfEmpty: (key: string) => void
  /** Called by the stores when they drop an id to make room. */
  evicted: (id: string, from: 'memory' | 'disk') => void
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
  /**
   * Another worker invalidated this (and removed the files): drop the memory copies and
   * keep fills in flight from storing, without touching the disk.
   */
  invalidated: (what: Invalidation) => void
  /** Another worker stored this entry on disk: requests map to its variant from now on. */
  learnStored: (item: { key: string; variant: string; vary: string[] }) => void
  /** Resolves once the disk writes queued for `id` so far are done (or failed). */
  written: (id: string) => Promise<void>
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
export function variantOf(vary: readonly string[], req: HeaderBag): string {
  if (vary.length === 0) return ''
  let out = ''
  for (const name of vary) {
    if (IGNORED_VARY.has(name)) continue
    const raw = req[name]
    const value =
      raw === undefined
        ? ''
        : (Array.isArray(raw) ? raw.join(',') : raw)
            .replace(/\s*,\s*/g, ',')
            .replace(/\s+/g, ' ')
            .trim()
    out += `${name}:${value}\n`
  }
  return out
}

export function createCache(init: CacheInit): Cache {
  const { memory, disk, logger } = init
  const index = new Map<string, { vary: string[]; ids: Set<string> }>()
  // The hit path calls this per request: no copy unless there are key headers to merge.
  const keyFields = (vary: readonly string[]): readonly string[] =>
    init.keyHeaders.length === 0 ? vary : [...new Set([...init.keyHeaders, ...vary])]
  const variantFor = (vary: readonly string[], req: HeaderBag): string => variantOf(keyFields(vary), req)
  // Ids are `key` or `key\nvariant` (store.ts); the key is what the index is by.
  const forgetId = (id: string): void => {
    const nl = id.indexOf('\n')
    const key = nl === -1 ? id : id.slice(0, nl)
    const known = index.get(key)
    if (known === undefined) return
    known.ids.delete(id)
    if (known.ids.size === 0) index.delete(key)
  }
  const pending = new Set<Promise<void>>()
  const reading = new Map<string, Promise<CacheEntry | undefined>>()
  const lastWrite = new Map<string, Promise<void>>()

  const track = (id: string, write: () => Promise<void>): void => {
    const previous = lastWrite.get(id) ?? Promise.resolve()
    const p = previous.then(write).catch((err: unknown) => {
      logger.error('disk-write-failed', { id, error: String(err) })
      if (!memory.has(id)) forgetId(id)
    })
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
  /** A new Vary makes the old variants unreachable: drop them now rather than at eviction. */
  const adoptVary = async (key: string, vary: string[], keep?: string): Promise<void> => {
    const known = index.get(key)
    if (known === undefined || known.vary.join() === vary.join()) return
    for (const old of known.ids) if (old !== keep) await removeId(old)
    known.ids.clear()
    known.vary = vary
  }

  // key → epoch of its last invalidation; dropped whole if it ever grows past a bound.
  const invalidatedAt = new Map<string, number>()
  let epoch = 0

  const invalidateHere = async (key: string, disk: boolean): Promise<number> => {
    if (invalidatedAt.size >= MAX_TRACKED_INVALIDATIONS) invalidatedAt.clear()
    invalidatedAt.set(key, ++epoch)
    const known = index.get(key)
    index.delete(key)
    const ids = known === undefined ? [key] : [...known.ids]
    for (const id of ids) {
      if (disk) await removeId(id)
      else await memory.delete(id)
    }
    return known?.ids.size ?? 0
  }
  const invalidate = async (key: string): Promise<number> => {
    const n = await invalidateHere(key, true)
    init.onInvalidate?.({ key })
    return n
  }

  return {
    get memoryBytes() {
      return memory.bytes
    },
    get diskBytes() {
      return disk?.bytes ?? 0
    },
    get entries() {
      let n = 0
      for (const known of index.values()) n += known.ids.size
      return n
    },
    idFor(key, req) {
      const fields = keyFields(index.get(key)?.vary ?? [])
      return fields.length === 0 ? key : entryId(key, variantOf(fields, req))
    },
    keyFieldsOf: key => keyFields(index.get(key)?.vary ?? []),
    variantFor,
    evicted(id, from) {
      // Memory gives way while the disk keeps the entry; the disk's own eviction (or its refusal) ends it.
      if (from === 'memory' ? disk === undefined : !memory.has(id)) forgetId(id)
    },
    peek: id => memory.peek(id),
    epochOf: key => invalidatedAt.get(key) ?? 0,
    async get(id) {
      const hot = memory.peek(id)
      if (hot !== undefined || disk === undefined) return hot
      // Concurrent misses of one cold entry share one read: N clients of an entry too
      // large for memory must not read N copies of it.
      let read = reading.get(id)
      if (read === undefined) {
        read = (async () => {
          await lastWrite.get(id)
          const cold = await disk.get(id)
          if (cold !== undefined) {
            // Maybe another worker's write: index it here too (its Vary, for later requests).
            remember(cold.key, cold.variant, cold.vary)
            await memory.put(cold)
          }
          return cold
        })().finally(() => reading.delete(id))
        reading.set(id, read)
      }
      return await read
    },
    async put(entry) {
      const id = entryId(entry.key, entry.variant)
      const known = index.get(entry.key)
      // A client error never takes the place of a good page (cache-poisoned denial of
      // service): not of a fresh 200 of this variant, nor of every variant by a new Vary.
      if (entry.status >= 400 && entry.status < 500 && known !== undefined) {
        if (known.vary.join() !== entry.vary.join()) return
        const current = memory.peek(id) ?? (disk?.has(id) === true ? await disk.get(id) : undefined)
        if (current !== undefined && current.status === 200 && isFresh(current, init.now())) return
      }
      await adoptVary(entry.key, entry.vary, id)
      remember(entry.key, entry.variant, entry.vary)
      await memory.put(entry)
      if (disk !== undefined) track(id, async () => await disk.put(entry))
    },
    async learnVary(key, vary) {
      await adoptVary(key, vary)
      // Without Vary a key needs no index entry until something is stored under it.
      if (!index.has(key) && vary.length > 0) index.set(key, { vary, ids: new Set() })
    },
    forgetIfEmpty(key) {
      if (index.get(key)?.ids.size === 0) index.delete(key)
    },
    invalidate,
    async purgePrefix(prefix) {
      let n = 0
      for (const key of [...index.keys()]) if (key.startsWith(prefix)) n += await invalidateHere(key, true)
      init.onInvalidate?.({ prefix })
      return n
    },
    invalidated(what) {
      const keys = 'key' in what ? [what.key] : [...index.keys()].filter(key => key.startsWith(what.prefix))
      for (const key of keys) void invalidateHere(key, false)
    },
    learnStored(item) {
      const known = index.get(item.key)
      // Another worker's Vary replaces ours as a store here would (adoptVary), without touching the disk.
      if (known !== undefined && known.vary.join() !== item.vary.join()) {
        for (const old of known.ids) void memory.delete(old)
        known.ids.clear()
      }
      remember(item.key, item.variant, item.vary)
    },
    written: async id => await lastWrite.get(id),
    async open() {
      if (disk === undefined) return 0
      const found = await disk.open()
      for (const item of found) remember(item.key, item.variant, item.vary)
      return found.length
    },
    async close() {
      while (pending.size > 0) await Promise.all([...pending])
      await memory.close()
      await disk?.close()
    }
  }
}
