/**
 * The disk index the cluster primary keeps for every worker: LRU eviction past either
 * limit, a read by another writer indexing the file, and the messages workers send it
 * refused when malformed rather than trusted.
 */
import { describe, expect, it } from 'vitest'
import { createDiskIndex } from '../../../edge/src/cache/disk-index.js'
import type { DiskIndexRecord } from '../../../edge/src/cache/disk-index.js'
import { tempWriterOf } from '../../../edge/src/cache/disk-store.js'
import { parseWorkerMessage } from '../../../edge/src/cluster/messages.js'

const record = (id: string, cost: number): DiskIndexRecord => ({ id, key: id, variant: '', vary: [], cost })

function indexOf(maxBytes: number, maxEntries: number, found: DiskIndexRecord[] = []) {
  const unlinked: string[] = []
  const evicted: string[] = []
  const index = createDiskIndex({
    maxBytes,
    maxEntries,
    scan: async () => found,
    unlink: async id => void unlinked.push(id),
    onEvict: id => void evicted.push(id)
  })
  return { index, unlinked, evicted }
}

describe('disk index', () => {
  it('evicts the least recently used past its bytes, a read counting as a use', async () => {
    const { index, unlinked, evicted } = indexOf(10_000, 100)
    await index.added(record('/a', 4096))
    await index.added(record('/b', 4096))
    index.touched('/a', record('/a', 4096))
    await index.added(record('/c', 4096))
    expect(unlinked).toEqual(['/b'])
    expect(evicted).toEqual(['/b'])
    expect(index.bytes).toBe(8192)
    expect(index.records().map(r => r.id)).toEqual(['/a', '/c'])
  })

  it('evicts past its entry count, and at open past either limit, oldest first', async () => {
    const { index, unlinked } = indexOf(1_000_000, 2, [record('/old', 10), record('/mid', 10), record('/new', 10)])
    expect(await index.open()).toEqual([
      { key: '/mid', variant: '', vary: [] },
      { key: '/new', variant: '', vary: [] }
    ])
    expect(unlinked).toEqual(['/old'])
  })

  it('indexes a file another writer stored when it is read, and replaces a rewritten one', async () => {
    const { index } = indexOf(1_000_000, 10)
    index.touched('/theirs', { key: '/theirs', variant: '', vary: [], cost: 5000 })
    expect(index.has('/theirs')).toBe(true)
    await index.added(record('/theirs', 7000))
    expect(index.bytes).toBe(7000)
    index.removed('/theirs')
    expect(index.bytes).toBe(0)
    expect(index.size).toBe(0)
  })

  it('reads the writer of a temp file from its name, and nothing from another name', () => {
    expect(tempWriterOf(`${'a'.repeat(64)}.entry.tmp-0000303900112233aabb`)).toBe(12345)
    expect(tempWriterOf(`${'a'.repeat(64)}.entry.tmp-leftover`)).toBeUndefined()
    expect(tempWriterOf(`${'a'.repeat(64)}.entry`)).toBeUndefined()
  })
})

describe('cluster messages from workers', () => {
  it('takes well-formed ones and refuses the rest, and ignores what is not ours', () => {
    expect(parseWorkerMessage({ t: 'p2pcdn:lock', seq: 3, id: '/a' })).toEqual({ t: 'p2pcdn:lock', seq: 3, id: '/a' })
    expect(parseWorkerMessage({ t: 'p2pcdn:added', record: record('/a', 4096) })).toBeDefined()
    for (const bad of [
      null,
      'p2pcdn:lock',
      { type: 'prom-client:getMetricsRes' },
      { t: 'p2pcdn:lock', seq: 'x', id: '/a' },
      { t: 'p2pcdn:lock', seq: 1 },
      { t: 'p2pcdn:added', record: { ...record('/a', 1), cost: -1 } },
      { t: 'p2pcdn:added', record: { ...record('/a', 1), vary: [1] } },
      { t: 'p2pcdn:invalidate', what: {} },
      { t: 'p2pcdn:load', load: { connections: 1, bytesServed: 0, hits: 0 } },
      { t: 'p2pcdn:unknown' }
    ])
      expect(parseWorkerMessage(bad), JSON.stringify(bad)).toBeUndefined()
  })
})
