/**
 * Peers in real Chromium: five pages load one 8 MiB resource one after another and the
 * later ones take most bytes from the earlier ones; a lying peer, a peer that closes
 * mid-transfer and a peer that stalls never cost the victim a wrong byte or the fetch.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Page } from 'playwright'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import {
  createIn,
  eventsOf,
  fetchIn,
  peerConnectedIn,
  sha256Hex,
  startCdnEnv,
  type CdnEnv
} from '../helpers/cdn-env.js'
import { dataChannelFault } from './support/page-probes.js'

const MIB = 1024 * 1024
const cacheable = { 'Cache-Control': 'public, max-age=3600' }
const files = {
  big: deterministicBytes(8 * MIB, 'swarm-8mib'),
  lie: deterministicBytes(2 * MIB, 'liar'),
  close: deterministicBytes(3 * MIB, 'closer'),
  stall: deterministicBytes(2 * MIB, 'staller')
}

let env: CdnEnv

beforeAll(async () => {
  env = await startCdnEnv(
    Object.fromEntries(Object.entries(files).map(([name, body]) => [`/${name}.bin`, { body, headers: cacheable }]))
  )
})

afterAll(async () => {
  await env?.close()
})

function explain(label: string, events: string[]): string {
  return `${label}:\n${events.filter(e => !e.startsWith('chunk')).join('\n')}`
}

describe('a swarm of five pages', () => {
  it('later pages take most of the 8 MiB from earlier ones; every copy is exact', async () => {
    const size = files.big.length
    const expected = sha256Hex(files.big)
    const pages: Page[] = []
    for (let i = 0; i < 5; i++) {
      const page = await env.openPage()
      pages.push(page)
      const r = await fetchIn(page, '/big.bin', { tracker: env.tracker.url, swarm: 'five' })
      const { peer, edge, origin } = r.stats.bytes
      console.log(
        `page ${i + 1}: peer ${((100 * peer) / size).toFixed(1)}%, edge ${((100 * edge) / size).toFixed(1)}%, origin ${origin} B`
      )
      expect(r.sha256, explain(`page ${i + 1}`, r.events)).toBe(expected)
      expect(peer + edge + origin).toBe(size)
      if (i > 0) expect(peer, explain(`page ${i + 1}`, r.events)).toBeGreaterThan(0.5 * size)
    }
    expect(env.origin.requests.get('/big.bin')).toBe(1)
    for (const page of pages) await page.context().close()
  })
})

describe('misbehaving peers', () => {
  it('a lying peer is dropped and reported; the victim gets correct bytes elsewhere', async () => {
    // The liar runs the real SDK; the test corrupts its DATA frames on the way out,
    // which is what a page whose stored chunks rotted would send if it did not re-verify.
    const liar = await env.openPage({ init: [[dataChannelFault, { kind: 'corrupt', afterBytes: 0 }]] })
    const seeded = await fetchIn(liar, '/lie.bin', { tracker: env.tracker.url, swarm: 'liar' })
    expect(seeded.sha256).toBe(sha256Hex(files.lie))
    const victim = await env.openPage()
    const r = await fetchIn(victim, '/lie.bin', { tracker: env.tracker.url, swarm: 'liar' })
    expect(r.sha256).toBe(sha256Hex(files.lie))
    const liarId = eventsOf(r, 'peer').find(e => e.connected)?.id
    expect(liarId, explain('victim', r.events)).toBeDefined()
    expect(eventsOf(r, 'error').some(e => e.code === 'ERR_INTEGRITY' && e.peer === liarId)).toBe(true)
    expect(eventsOf(r, 'peer').some(e => e.id === liarId && !e.connected)).toBe(true)
    expect(r.stats.peers.map(p => p.id)).not.toContain(liarId)
    expect(r.stats.bytes.peer).toBe(0)
    expect(r.stats.bytes.edge).toBe(files.lie.length)
    // Not accepted again in this session: a second fetch takes nothing from it either.
    const again = await victim.evaluate(async () => {
      const w = globalThis as any
      await (await w.cdn.fetch('/lie.bin')).arrayBuffer()
      return w.cdn.stats().peers.map((p: { id: string }) => p.id)
    })
    expect(again).not.toContain(liarId)
    await liar.context().close()
    await victim.context().close()
  })

  it('a peer that closes mid-transfer: the fetch completes from the edge', async () => {
    const closer = await env.openPage({ init: [[dataChannelFault, { kind: 'close', afterBytes: 512 * 1024 }]] })
    await fetchIn(closer, '/close.bin', { tracker: env.tracker.url, swarm: 'closer' })
    const victim = await env.openPage()
    // Connected before it fetches, so the closer is asked for chunks whatever the load on this
    // machine (under the full suite the edge could serve them all before the channel opened).
    await createIn(victim, { tracker: env.tracker.url, swarm: 'closer' })
    await peerConnectedIn(victim)
    const r = await fetchIn(victim, '/close.bin')
    expect(r.sha256).toBe(sha256Hex(files.close))
    const { peer, edge } = r.stats.bytes
    expect(peer + edge).toBe(files.close.length)
    expect(peer, explain('victim', r.events)).toBeGreaterThan(0)
    expect(edge).toBeGreaterThan(0)
    expect(eventsOf(r, 'peer').some(e => !e.connected)).toBe(true)
    await closer.context().close()
    await victim.context().close()
  })

  it('a peer that stalls loses the request; bytes it sent are kept and HTTP Range finishes the chunk', async () => {
    const staller = await env.openPage({ init: [[dataChannelFault, { kind: 'stall', afterBytes: 300 * 1024 }]] })
    await fetchIn(staller, '/stall.bin', { tracker: env.tracker.url, swarm: 'staller' })
    const victim = await env.openPage()
    const r = await fetchIn(victim, '/stall.bin', { tracker: env.tracker.url, swarm: 'staller', peerTimeoutMs: 1000 })
    expect(r.sha256).toBe(sha256Hex(files.stall))
    expect(r.stats.bytes.peer + r.stats.bytes.edge).toBe(files.stall.length)
    expect(eventsOf(r, 'error').some(e => e.code === 'ERR_TIMEOUT')).toBe(true)
    // A chunk finished by the edge after a peer's part of it.
    const spliced = eventsOf(r, 'chunk').filter(e => e.source === 'edge' && e.peer !== undefined)
    expect(spliced.length, explain('victim', r.events)).toBeGreaterThan(0)
    await staller.context().close()
    await victim.context().close()
  })
})
