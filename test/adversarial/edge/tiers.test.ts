/**
 * Tiered caching under attack: a client forging `CDN-Loop` to get fills refused, and a
 * hostile parent edge (`--parent`) answering with a loop error that says "cache me", a
 * manifest that does not describe the bytes it sent, or an endless manifest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_MANIFEST_BYTES, parseManifest, serializeManifest } from '../../../protocol/src/index.js'
import { MAX_EDGE_HOPS } from '../../../edge/src/cdn-loop.js'
import { expectVictim, mustStart, record, request } from './support/harness.js'
import type { EdgeChild } from './support/harness.js'
import { SMALL, SMALL_HEADERS, bytes, serveSmall, startHttpOrigin } from './support/origins.js'
import type { HttpOrigin } from './support/origins.js'

const BODY = bytes(40_000, 'tiers')
const BODY_HEADERS = { ...SMALL_HEADERS, 'content-length': String(BODY.length), etag: '"tiers-1"' }

let origin: HttpOrigin
let shield: EdgeChild
let child: EdgeChild
/** Poses as a parent edge; what it answers is up to each test. */
let hostile: HttpOrigin
let behindHostile: EdgeChild

const forgedChain = (members: number): string =>
  Array.from({ length: members }, (_, i) => `p2pcdn; edge=forged${i}`).join(', ')

beforeAll(async () => {
  origin = await startHttpOrigin((req, res) => {
    if (serveSmall(req, res)) return
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('no')
  })
  shield = await mustStart(origin.url)
  child = await mustStart(origin.url, ['--parent', shield.url])
  hostile = await startHttpOrigin((req, res) => {
    const url = req.url ?? '/'
    if (url === '/refused-slowly') {
      // As a real parent would: refuse a chain that is full by now, but slowly.
      const hops = String(req.headers['cdn-loop'] ?? '').split(',').length
      if (hops >= MAX_EDGE_HOPS) {
        setTimeout(() => {
          res.writeHead(508, { 'content-type': 'text/plain' })
          res.end('loop')
        }, 200)
        return
      }
      res.writeHead(200, BODY_HEADERS)
      res.end(BODY)
    } else if (url === '/loop') {
      // A "loop" answer that asks to be cached for everybody.
      res.writeHead(508, { 'content-type': 'text/plain', 'cache-control': 'public, max-age=3600' })
      res.end('loop')
    } else if (url.startsWith('/_p2pcdn/manifest') && url.includes('endless')) {
      res.writeHead(200, { 'content-type': 'application/json' })
      const junk = Buffer.alloc(64 * 1024, 0x20)
      const write = (): void => {
        while (res.write(junk));
      }
      res.on('drain', write)
      write()
    } else if (url.startsWith('/_p2pcdn/manifest')) {
      // Well formed and signed, but its chunk hashes are not those of the bytes it serves.
      const m = {
        v: 1,
        url: `${origin.url}/lying.bin`,
        size: BODY.length,
        type: 'application/octet-stream',
        etag: '"tiers-1"',
        chunkSize: 256 * 1024,
        hash: 'SHA-256',
        chunks: ['A'.repeat(43)],
        signatures: [{ keyId: 'A'.repeat(11), sig: 'A'.repeat(86) }]
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(m))
    } else if (url === '/lying.bin' || url === '/endless.bin') {
      res.writeHead(200, BODY_HEADERS)
      res.end(BODY)
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('no')
    }
  })
  behindHostile = await mustStart(origin.url, ['--parent', hostile.url])
})

afterAll(async () => {
  for (const e of [child, shield, behindHostile]) await e.stop()
  await hostile.close()
  await origin.close()
})

describe('forged CDN-Loop', () => {
  it(`a request already carrying ${MAX_EDGE_HOPS} p2pcdn hops is refused with 508`, async () => {
    const before = origin.log.length
    const attacker = await request(`${child.url}/small`, {
      headers: { 'cdn-loop': forgedChain(MAX_EDGE_HOPS) }
    })
    record('tiers: forged full CDN-Loop', {
      attackerStatus: attacker.status,
      originRequests: origin.log.length - before
    })
    expect(attacker.status).toBe(508)
    expect(origin.log.length).toBe(before)
    await expectVictim(child, '/small', SMALL)
  })

  it('a chain one short of the limit, refused at the parent, fails only its sender, not the clients it coalesced with', async () => {
    const path = '/refused-slowly'
    const attacker = request(`${behindHostile.url}${path}`, { headers: { 'cdn-loop': forgedChain(MAX_EDGE_HOPS - 1) } })
    // The parent takes 200 ms over the attacker's fill; these join it meanwhile.
    await new Promise(resolve => setTimeout(resolve, 50))
    const victims = await Promise.all(
      Array.from({ length: 5 }, async () => await request(`${behindHostile.url}${path}`))
    )
    const a = await attacker
    record('tiers: forged CDN-Loop one short', {
      attackerStatus: a.status,
      victimStatuses: victims.map(v => v.status),
      parentRequests: hostile.count(path)
    })
    expect(a.status).toBe(508)
    for (const v of victims) {
      expect(v.status).toBe(200)
      expect(v.body.equals(BODY)).toBe(true)
    }
    await expectVictim(behindHostile, path, BODY)
  })
})

describe('hostile parent', () => {
  it('a 508 that says "public, max-age=3600" is not stored', async () => {
    const first = await request(`${behindHostile.url}/loop`)
    const second = await request(`${behindHostile.url}/loop`)
    record('tiers: cacheable 508 from the parent', {
      statuses: [first.status, second.status],
      parentRequests: hostile.count('/loop')
    })
    expect(first.status).toBe(508)
    expect(second.status).toBe(508)
    expect(second.headers['x-cache']).not.toBe('HIT')
    expect(hostile.count('/loop')).toBe(2)
  })

  it("a parent manifest that does not match the bytes lends the child's manifest no signature", async () => {
    const res = await request(`${behindHostile.url}/_p2pcdn/manifest?url=/lying.bin`)
    expect(res.status).toBe(200)
    const m = parseManifest(res.body.toString())
    record('tiers: lying parent manifest', { signatures: m.signatures?.length ?? 0, chunks: m.chunks.length })
    expect(m.signatures).toBeUndefined()
    expect(m.chunkSize).toBe(256 * 1024)
    // The child's own description of what it stored: the real hash of the body.
    const { createHash } = await import('node:crypto')
    expect(m.chunks).toEqual([createHash('sha256').update(BODY).digest('base64url')])
    expect(serializeManifest(m)).not.toContain('A'.repeat(43))
  })

  it(`an endless parent manifest is cut at ${MAX_MANIFEST_BYTES} bytes and the child's own is served`, async () => {
    const res = await request(`${behindHostile.url}/_p2pcdn/manifest?url=/endless.bin`, { timeoutMs: 15_000 })
    expect(res.status).toBe(200)
    const m = parseManifest(res.body.toString())
    record('tiers: endless parent manifest', { status: res.status, signatures: m.signatures?.length ?? 0 })
    expect(m.signatures).toBeUndefined()
    expect(m.size).toBe(BODY.length)
    await expectVictim(behindHostile, '/lying.bin', BODY)
  })
})
