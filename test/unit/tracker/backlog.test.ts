/** SendBacklog with fake sockets: per-socket limit, total cap (largest first), lagging, stalls, drains. */
import { describe, expect, it } from 'vitest'
import { SendBacklog } from '../../../tracker/src/backlog.js'
import type { BacklogDropReason, BacklogSocket } from '../../../tracker/src/backlog.js'

class FakeSocket implements BacklogSocket {
  queued = 0
  private drained: Array<() => void> = []
  constructor(readonly name: string) {}
  queuedBytes(): number {
    return this.queued
  }
  onceDrained(fn: () => void): void {
    this.drained.push(fn)
  }
  drain(): void {
    this.queued = 0
    for (const fn of this.drained.splice(0)) fn()
  }
}

function setup(init: { perSocket?: number; total?: number; stallMs?: number } = {}): {
  backlog: SendBacklog<FakeSocket>
  drops: Array<[string, BacklogDropReason, number]>
  clock: { now: number }
} {
  const drops: Array<[string, BacklogDropReason, number]> = []
  const clock = { now: 0 }
  const backlog = new SendBacklog<FakeSocket>({
    maxPerSocketBytes: init.perSocket ?? 1000,
    maxTotalBytes: init.total ?? 10_000,
    stallMs: init.stallMs ?? 5000,
    drop: (s, reason, bytes) => drops.push([s.name, reason, bytes]),
    now: () => clock.now
  })
  return { backlog, drops, clock }
}

describe('SendBacklog', () => {
  it('drops a socket over its own limit, and forgets one that drains', () => {
    const { backlog, drops } = setup()
    const a = new FakeSocket('a')
    a.queued = 600
    backlog.note(a)
    expect([backlog.has(a), backlog.totalBytes]).toEqual([true, 600])
    a.drain()
    expect([backlog.has(a), backlog.totalBytes]).toEqual([false, 0])
    a.queued = 1001
    backlog.note(a)
    expect(drops).toEqual([['a', 'slow-reader', 1001]])
    expect([backlog.has(a), backlog.totalBytes]).toEqual([false, 0])
  })

  it('sheds the largest backlogs while the total is over its cap', () => {
    const { backlog, drops } = setup({ perSocket: 1000, total: 2000 })
    const sockets = ['a', 'b', 'c'].map(n => new FakeSocket(n))
    sockets[0]!.queued = 900
    sockets[1]!.queued = 500
    sockets[2]!.queued = 800
    for (const s of sockets) backlog.note(s)
    // 2,200 > 2,000: the largest (a, 900) goes, which is enough.
    expect(drops).toEqual([['a', 'backlog-total', 900]])
    expect(backlog.totalBytes).toBe(1300)
    expect(backlog.size).toBe(2)
  })

  it('counts a socket as lagging only once a sweep finds it still backlogged, and drops it when it stalls', () => {
    const { backlog, drops, clock } = setup({ stallMs: 1000 })
    const a = new FakeSocket('a')
    a.queued = 100
    backlog.note(a)
    expect(backlog.isLagging(a)).toBe(false)
    clock.now = 100
    a.queued = 300
    backlog.sweep()
    expect(backlog.isLagging(a)).toBe(true)
    expect(backlog.totalBytes).toBe(300)
    clock.now = 1200
    backlog.sweep()
    expect(drops).toEqual([['a', 'stalled', 300]])
    expect(backlog.size).toBe(0)
  })
})
