/**
 * One count of the content bytes the edge holds in memory, so `maxMemoryBytes` bounds
 * their sum: bodies and metadata in the memory store, and bodies of fills still
 * arriving. The memory store is the part that gives way: a fill that needs room evicts
 * stored entries, least recently used first; what cannot be made room for is not held
 * (the fill passes through instead).
 */

/** What the budget may shrink: the memory store. */
export interface Evictable {
  /** Bytes the store charges for what it holds. */
  readonly bytes: number
  /** Evict least recently used entries until the store holds at most `bytes`. */
  shrinkTo: (bytes: number) => void
}

export interface MemoryBudget {
  readonly limit: number
  /** Bytes taken outside the store (fills in flight). */
  readonly reserved: number
  /** Room the store may use now. */
  readonly storeRoom: number
  /** Take `bytes`, evicting stored entries if needed; false (nothing taken) when even an empty store leaves too little. */
  reserve: (bytes: number) => boolean
  release: (bytes: number) => void
  attach: (store: Evictable) => void
}

export function createMemoryBudget(limit: number): MemoryBudget {
  let reserved = 0
  let store: Evictable | undefined
  return {
    limit,
    get reserved() {
      return reserved
    },
    get storeRoom() {
      return Math.max(0, limit - reserved)
    },
    reserve(bytes) {
      if (bytes <= 0) return true
      if (reserved + bytes > limit) return false
      reserved += bytes
      if (store !== undefined && store.bytes + reserved > limit) store.shrinkTo(limit - reserved)
      return true
    },
    release(bytes) {
      reserved = Math.max(0, reserved - bytes)
    },
    attach(s) {
      store = s
    }
  }
}
