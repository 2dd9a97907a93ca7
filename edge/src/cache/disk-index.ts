/**
 * Which entries a cache folder holds, what each costs, and which was used least
 * recently: the disk store's bookkeeping, kept apart from its files so that with
 * `--workers` one process (the primary) can keep it for all of them.
 */

/** What a worker needs to know of one entry on disk: enough to rebuild its key → variants index. */
export interface DiskIndexItem {
  key: string
  variant: string
  vary: string[]
}

export interface DiskIndexRecord extends DiskIndexItem {
  id: string
  /** Bytes charged: the whole file, at least one block. */
  cost: number
}

export interface DiskIndex {
  /** Index what the folder holds (evicting past the limits); returns what stays. */
  open: () => Promise<DiskIndexItem[]>
  /** Worth reading the file: false only when the index knows it is not there. */
  has: (id: string) => boolean
  /** A file was written (or replaced); may evict others. */
  added: (record: DiskIndexRecord) => Promise<void>
  /** A file was read: most recently used now (indexed, if another writer's). */
  touched: (id: string, record: DiskIndexRecord | Omit<DiskIndexRecord, 'id'>) => void
  /** A file the index named was not there. */
  missing: (id: string) => void
  /** A file was removed on purpose. */
  removed: (id: string) => void
  readonly bytes: number
  readonly size: number
  /** Every entry indexed, least recently used first. */
  records: () => DiskIndexRecord[]
}

export interface DiskIndexInit {
  maxBytes: number
  maxEntries: number
  /** What the folder holds, oldest first. */
  scan: () => Promise<DiskIndexRecord[]>
  /** Remove one entry's file. */
  unlink: (id: string) => Promise<void>
  /** Called for each entry dropped to make room. */
  onEvict?: (id: string) => void
}

export function createDiskIndex(init: DiskIndexInit): DiskIndex {
  // id → record, in least-recently-used-first order (a Map iterates in insertion order).
  const index = new Map<string, DiskIndexRecord>()
  let bytes = 0

  const forget = (id: string): boolean => {
    const old = index.get(id)
    if (old === undefined) return false
    index.delete(id)
    bytes -= old.cost
    return true
  }
  const set = (record: DiskIndexRecord): void => {
    forget(record.id)
    index.set(record.id, record)
    bytes += record.cost
  }
  const evict = async (): Promise<void> => {
    for (const [id] of index) {
      if (bytes <= init.maxBytes && index.size <= init.maxEntries) break
      forget(id)
      await init.unlink(id)
      init.onEvict?.(id)
    }
  }

  return {
    get bytes() {
      return bytes
    },
    get size() {
      return index.size
    },
    has: id => index.has(id),
    async open() {
      for (const record of await init.scan()) set(record)
      await evict()
      return [...index.values()].map(({ key, variant, vary }) => ({ key, variant, vary }))
    },
    async added(record) {
      set(record)
      await evict()
    },
    touched(id, record) {
      const old = index.get(id)
      if (old !== undefined) {
        index.delete(id)
        index.set(id, old)
      } else set({ ...record, id })
    },
    missing: id => void forget(id),
    removed: id => void forget(id),
    records: () => [...index.values()]
  }
}
