/**
 * A disk entry damaged while the edge runs (bit rot, another process) must be dropped
 * and refilled, never served.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectVictim, metric, mustStart, record, request, until } from './support/harness.js'
import type { EdgeChild } from './support/harness.js'
import { SMALL, bytes, serveSmall, startHttpOrigin } from './support/origins.js'
import type { HttpOrigin } from './support/origins.js'

const MiB = 1024 * 1024
const objects = Array.from({ length: 5 }, (_, i) => bytes(MiB, `disk-${i + 1}`))
let origin: HttpOrigin
let edge: EdgeChild
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2pcdn-adv-disk-'))
  origin = await startHttpOrigin((req, res) => {
    if (serveSmall(req, res)) return
    const n = /^\/d\/(\d)$/.exec(req.url ?? '')
    const body = n === null ? undefined : objects[Number(n[1]) - 1]
    if (body === undefined) {
      res.writeHead(404)
      res.end()
      return
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'cache-control': 'public, max-age=600',
      'content-length': String(body.length)
    })
    res.end(body)
  })
  edge = await mustStart(origin.url, ['--cache-dir', dir, '--max-memory-bytes', String(4 * MiB)])
})

afterAll(async () => {
  await edge.stop()
  await origin.close()
  await rm(dir, { recursive: true, force: true })
})

async function entryHolding(needle: Buffer): Promise<{ file: string; at: number } | undefined> {
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.entry')) continue
    const raw = await readFile(join(dir, name))
    const at = raw.indexOf(needle)
    if (at !== -1) return { file: join(dir, name), at }
  }
  return undefined
}

describe('disk tampering', () => {
  it('a byte flipped in an entry on disk is never served; the entry is refilled', async () => {
    for (let i = 1; i <= 5; i++) {
      const r = await request(`${edge.url}/d/${i}`)
      expect(r.body.equals(objects[i - 1] ?? Buffer.alloc(0))).toBe(true)
    }
    // Entries are written after the fill completes: wait for all five files.
    let files = 0
    const written = await until(() => {
      void readdir(dir).then(names => {
        files = names.filter(n => n.endsWith('.entry')).length
      })
      return files >= 5
    }, 5000)
    expect(written).toBe(true)
    const inMemory = await metric(edge, 'p2pcdn_edge_cache_memory_bytes')
    // The first object must have left memory, or the disk copy is never read.
    expect(inMemory ?? Infinity).toBeLessThanOrEqual(4 * MiB)
    expect(origin.count('/d/1')).toBe(1)
    const first = objects[0] ?? Buffer.alloc(0)
    const found = await entryHolding(first.subarray(0, 64))
    expect(found).toBeDefined()
    const raw = await readFile(found?.file ?? '')
    const flip = (found?.at ?? 0) + 512 * 1024
    raw[flip] = (raw[flip] ?? 0) ^ 0x01
    await writeFile(found?.file ?? '', raw)

    const after = await request(`${edge.url}/d/1`)
    record('disk: flipped byte in entry', {
      status: after.status,
      cache: after.headers['x-cache'],
      exact: after.body.equals(first),
      servedFlipped: after.body.length === first.length && after.body[512 * 1024] !== first[512 * 1024],
      originRequests: origin.count('/d/1'),
      memoryGauge: inMemory
    })
    expect(after.status).toBe(200)
    expect(after.body.equals(first)).toBe(true)
    expect(origin.count('/d/1')).toBe(2)
    await expectVictim(edge, '/small', SMALL)
  })
})
