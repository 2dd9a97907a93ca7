import { describe, expect, it } from 'vitest'
import { createFairQueue } from '../../../edge/src/fair-queue.js'

/** Let granted acquisitions run their continuations. */
const settle = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

describe('fair queue of origin requests', () => {
  it('gives a free slot to the next client in turn, not to the oldest request', async () => {
    const q = createFairQueue({ concurrency: 1, maxRunningPerClient: 1, maxQueuedPerClient: 100, maxQueued: 1000 })
    const order: string[] = []
    const first = await q.acquire('flood')
    const waits: Array<Promise<void>> = []
    for (let i = 0; i < 5; i++)
      waits.push(
        q.acquire('flood').then(release => {
          order.push(`flood${i}`)
          release()
        })
      )
    waits.push(
      q.acquire('victim').then(release => {
        order.push('victim')
        release()
      })
    )
    expect(q.queued).toBe(6)
    first()
    await Promise.all(waits)
    // The victim asked last but waits for one turn of the flood only.
    expect(order.indexOf('victim')).toBe(1)
    expect(q.running).toBe(0)
  })

  it('holds one client to its share of slots, so others get the rest', async () => {
    const q = createFairQueue({ concurrency: 4, maxRunningPerClient: 2, maxQueuedPerClient: 100, maxQueued: 1000 })
    const held = [await q.acquire('a'), await q.acquire('a')]
    let third = false
    void q.acquire('a').then(() => {
      third = true
    })
    const other = await q.acquire('b')
    expect(q.running).toBe(3)
    expect(third).toBe(false)
    // A slot freed by another client does not go past a's share either.
    other()
    await settle()
    expect(third).toBe(false)
    held[0]?.()
    await settle()
    expect(third).toBe(true)
  })

  it('refuses past a client bound and past the total bound, and a release counts once', async () => {
    const q = createFairQueue({ concurrency: 1, maxRunningPerClient: 1, maxQueuedPerClient: 2, maxQueued: 3 })
    const release = await q.acquire('a')
    const pending = [q.acquire('a'), q.acquire('a')]
    await expect(q.acquire('a')).rejects.toMatchObject({ code: 'EDGE_QUEUE_FULL' })
    pending.push(q.acquire('b'))
    await expect(q.acquire('c')).rejects.toMatchObject({ code: 'EDGE_QUEUE_FULL' })
    release()
    release()
    expect(q.running).toBe(1)
    // Each holder lets go as soon as it has its turn.
    await Promise.all(
      pending.map(async p => {
        ;(await p)()
      })
    )
    expect(q.running).toBe(0)
    expect(q.queued).toBe(0)
  })
})
