/** Swarm: counts, ownership of peer ids, the size cap, and region-first peer choice. */
import { describe, expect, it } from 'vitest'
import { Swarm } from '../../../tracker/src/swarm.js'
import type { SwarmPeer } from '../../../tracker/src/swarm.js'

const id = (n: number): string => `peer-${String(n).padStart(15, '0')}`

function fill(swarm: Swarm<string>, regions: Record<string, number>): void {
  let n = 0
  for (const [region, count] of Object.entries(regions)) {
    for (let i = 0; i < count; i++, n++) swarm.announce({ peerId: id(n), event: 'started', region, handle: `h${n}` })
  }
}

function choose(
  swarm: Swarm<string>,
  from: string,
  region: string,
  neighbours: string[],
  count: number
): Array<SwarmPeer<string>> {
  const out: Array<SwarmPeer<string>> = []
  swarm.choosePeers(swarm.get(from), region, neighbours, count, out)
  return out
}

describe('Swarm', () => {
  it('keeps complete and incomplete right through starts, completions, stops and removals', () => {
    const swarm = new Swarm<string>('x'.repeat(20))
    swarm.announce({ peerId: id(1), event: 'started', region: 'eu', handle: 'a' })
    swarm.announce({ peerId: id(2), left: 0, region: 'eu', handle: 'b' })
    expect([swarm.complete, swarm.incomplete]).toEqual([1, 1])
    swarm.announce({ peerId: id(1), event: 'completed', region: 'eu', handle: 'a' })
    expect([swarm.complete, swarm.incomplete]).toEqual([2, 0])
    swarm.announce({ peerId: id(1), event: 'stopped', region: 'eu', handle: 'a' })
    expect(swarm.remove(id(2), 'someone else')).toBe(false)
    expect(swarm.remove(id(2), 'b')).toBe(true)
    expect([swarm.size, swarm.complete, swarm.incomplete]).toEqual([0, 0, 0])
  })

  it('refuses a peer id held by another handle, and new peers beyond the cap', () => {
    const swarm = new Swarm<string>('x'.repeat(20), 2)
    swarm.announce({ peerId: id(1), region: 'eu', handle: 'a' })
    expect(() => swarm.announce({ peerId: id(1), region: 'eu', handle: 'b' })).toThrow(
      expect.objectContaining({ code: 'ERR_PROTOCOL', reason: 'peer-id-taken' })
    )
    swarm.announce({ peerId: id(2), region: 'eu', handle: 'b' })
    expect(() => swarm.announce({ peerId: id(3), region: 'eu', handle: 'c' })).toThrow(
      expect.objectContaining({ reason: 'swarm-full' })
    )
    expect(swarm.size).toBe(2)
  })

  it('chooses distinct peers, never the asker, own region first, then neighbours in order, then any', () => {
    const swarm = new Swarm<string>('x'.repeat(20))
    fill(swarm, { eu: 3, us: 2, asia: 2, africa: 2 })
    for (let round = 0; round < 50; round++) {
      const picked = choose(swarm, id(0), 'eu', ['us', 'asia'], 6)
      expect(new Set(picked).size).toBe(6)
      expect(picked.map(p => p.peerId)).not.toContain(id(0))
      expect(picked.map(p => p.region)).toEqual(['eu', 'eu', 'us', 'us', 'asia', 'asia'])
    }
    expect(choose(swarm, id(0), 'eu', [], 100)).toHaveLength(8)
  })

  it('stays consistent through many random joins, moves and leaves (swap-remove indexes)', () => {
    const swarm = new Swarm<string>('x'.repeat(20))
    const live = new Map<string, string>()
    let seed = 7
    const rand = (n: number): number => {
      seed = (seed * 48_271) % 2_147_483_647
      return seed % n
    }
    for (let step = 0; step < 5000; step++) {
      const peerId = id(rand(300))
      const region = ['eu', 'us', 'asia'][rand(3)]!
      if (rand(3) === 0) {
        swarm.announce({ peerId, event: 'stopped', region, handle: 'h' })
        live.delete(peerId)
      } else {
        swarm.announce({ peerId, region, handle: 'h' })
        live.set(peerId, region)
      }
    }
    expect(swarm.size).toBe(live.size)
    const counts: Record<string, number> = {}
    for (const region of live.values()) counts[region] = (counts[region] ?? 0) + 1
    expect(swarm.regionCounts()).toEqual(counts)
    const everyone = choose(swarm, 'nobody-at-all-here!!', 'eu', [], live.size + 5)
    expect(new Set(everyone.map(p => p.peerId))).toEqual(new Set(live.keys()))
  })

  it('caps peers per source without counting other sources, and frees a slot when one leaves', () => {
    const swarm = new Swarm<string>('x'.repeat(20), Number.POSITIVE_INFINITY, 2)
    swarm.announce({ peerId: id(1), region: 'eu', handle: 'a', source: '10.0.0.1' })
    swarm.announce({ peerId: id(2), region: 'eu', handle: 'b', source: '10.0.0.1' })
    expect(() => swarm.announce({ peerId: id(3), region: 'eu', handle: 'c', source: '10.0.0.1' })).toThrow(
      expect.objectContaining({ code: 'ERR_PROTOCOL', reason: 'too-many-peer-ids' })
    )
    swarm.announce({ peerId: id(4), region: 'eu', handle: 'd', source: '10.0.0.2' })
    // A refresh of a peer already in is not a new one.
    swarm.announce({ peerId: id(1), region: 'eu', handle: 'a', source: '10.0.0.1' })
    swarm.remove(id(1), 'a')
    swarm.announce({ peerId: id(3), region: 'eu', handle: 'c', source: '10.0.0.1' })
    expect(swarm.size).toBe(3)
  })

  it('never chooses a peer whose handle is not usable', () => {
    const swarm = new Swarm<string>('x'.repeat(20))
    fill(swarm, { eu: 30 })
    for (let round = 0; round < 20; round++) {
      const out: Array<SwarmPeer<string>> = []
      swarm.choosePeers(swarm.get(id(0)), 'eu', [], 10, out, handle => handle !== 'h1' && handle !== 'h2')
      expect(out).toHaveLength(10)
      expect(out.map(p => p.handle)).not.toContain('h1')
      expect(out.map(p => p.handle)).not.toContain('h2')
    }
  })

  it('looks at a bounded number of peers per choice when almost none is usable', () => {
    const swarm = new Swarm<string>('y'.repeat(20))
    fill(swarm, { eu: 5000 })
    let looked = 0
    const out: Array<SwarmPeer<string>> = []
    swarm.choosePeers(swarm.get(id(0)), 'eu', [], 5, out, () => {
      looked++
      return false
    })
    expect(out).toHaveLength(0)
    // Random tries (2 per wanted peer, three groups at most) plus one capped pass each:
    // far from the 5,000 a full pass over the swarm would look at.
    expect(looked).toBeLessThan(500)
  })
})

describe('Swarm: same network first', () => {
  /** 40 peers in eu: ids 0-3 on AS 64500, 4-39 on AS 64501 (even) or unknown (odd); 10 in us on AS 64500. */
  function networks(): Swarm<string> {
    const swarm = new Swarm<string>('z'.repeat(20))
    for (let n = 0; n < 50; n++) {
      const region = n < 40 ? 'eu' : 'us'
      const asn = n < 4 || n >= 40 ? 64500 : n % 2 === 0 ? 64501 : undefined
      swarm.announce({ peerId: id(n), event: 'started', region, handle: `h${n}`, asn })
    }
    return swarm
  }
  const asns = (peers: Array<SwarmPeer<string>>): Array<number | undefined> => peers.map(p => p.asn)

  it('offers the peers of the asker`s ASN in its region first, then the rest of the region, then neighbours', () => {
    const swarm = networks()
    for (let round = 0; round < 50; round++) {
      expect(asns(choose(swarm, id(0), 'eu', ['us'], 3))).toEqual([64500, 64500, 64500])
      const five = choose(swarm, id(0), 'eu', ['us'], 5)
      expect(asns(five.slice(0, 3))).toEqual([64500, 64500, 64500])
      expect(five.slice(3).every(p => p.region === 'eu' && p.asn !== 64500)).toBe(true)
      // Same network in a neighbour region counts for nothing before the own region.
      expect(choose(swarm, id(0), 'eu', ['us'], 39).every(p => p.region === 'eu')).toBe(true)
    }
  })

  it('gives an asker of unknown network, or of a network nobody else is on, the region at random', () => {
    const swarm = networks()
    const seen = new Set<number | undefined>()
    for (let round = 0; round < 50; round++) {
      for (const p of choose(swarm, id(5), 'eu', [], 3)) seen.add(p.asn)
    }
    expect(seen).toEqual(new Set([64500, 64501, undefined]))
    swarm.announce({ peerId: id(99), event: 'started', region: 'eu', handle: 'h99', asn: 64999 })
    expect(choose(swarm, id(99), 'eu', [], 3)).toHaveLength(3)
  })

  it('keeps the per-network lists right through leaves and region moves', () => {
    const swarm = networks()
    // 1 leaves and 3 takes its place in the list; then 3 leaves from there.
    swarm.remove(id(1))
    swarm.remove(id(3))
    for (let round = 0; round < 20; round++) {
      expect(choose(swarm, id(0), 'eu', [], 1).map(p => p.peerId)).toEqual([id(2)])
    }
    // 2 moves to us, where 64500 askers find it first; 0 is alone on 64500 in eu.
    swarm.announce({ peerId: id(2), event: 'started', region: 'us', handle: 'h2' })
    for (let round = 0; round < 20; round++) {
      expect(choose(swarm, id(0), 'eu', [], 1)[0]!.asn).not.toBe(64500)
    }
    expect(choose(swarm, id(40), 'us', [], 10).map(p => p.peerId)).toContain(id(2))
    for (let n = 0; n < 50; n++) swarm.remove(id(n))
    expect(swarm.size).toBe(0)
    expect(swarm.regionCounts()).toEqual({})
  })
})
