/**
 * Hostile GeoIP input: a corrupt, truncated, compressed or mixed-up database stops
 * `p2pcdn tracker` at startup with an error naming the flag (the real command, in a child
 * process); addresses in X-Forwarded-For that are not addresses, and database records that
 * do not decode, leave those clients without a region and the tracker serving.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { binaryId, getJson } from '../../helpers/tracker-client.js'
import type { Json } from '../../helpers/tracker-client.js'
import { encode, pointer, writeMmdb } from '../../helpers/mmdb-writer.js'
import { join, useTrackers } from '../../helpers/tracker-harness.js'

const CLI = joinPath(import.meta.dirname, '..', '..', '..', 'cli', 'p2pcdn.ts')
const trackers = useTrackers()

const GOOD = writeMmdb(
  [
    { cidr: '192.0.2.0/24', data: { country: { iso_code: 'DE' }, continent: { code: 'EU' } } },
    // Records a lookup cannot decode: a bad extended type, and a map that contains itself.
    { cidr: '198.51.100.0/25', data: { raw: () => Buffer.from([0x00, 0x00]) } },
    {
      cidr: '198.51.100.128/25',
      data: { raw: offset => Buffer.concat([Buffer.from([0xe1]), encode('country'), pointer(offset)]) }
    }
  ],
  { databaseType: 'GeoLite2-Country' }
)

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(joinPath(tmpdir(), 'p2pcdn-geoip-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

interface Exit {
  code: number | null
  stderr: string
}

/** Run `p2pcdn tracker ARGS` until it exits, or until it says it listens (then SIGTERM). */
async function tracker(args: string[], env: Record<string, string> = {}): Promise<Exit & { listened: boolean }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'tracker', '--port', '0', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env }
  })
  let stderr = ''
  let listened = false
  child.stderr.on('data', chunk => {
    stderr += String(chunk)
    if (!listened && stderr.includes('listening on')) {
      listened = true
      child.kill('SIGTERM')
    }
  })
  const code = await new Promise<number | null>(resolve => child.once('exit', c => resolve(c)))
  return { code, stderr, listened }
}

async function file(name: string, bytes: Buffer): Promise<string> {
  const path = joinPath(dir, name)
  await writeFile(path, bytes)
  return path
}

describe('p2pcdn tracker --geoip with a bad file', () => {
  const corrupt = (): Buffer => {
    const bytes = Buffer.from(GOOD)
    bytes.writeUIntBE(0xfffff0, 0, 3)
    return bytes
  }
  const cases: Array<[string, () => Buffer, RegExp]> = [
    ['random bytes', () => Buffer.from('not a database at all, just text\n'.repeat(100)), /not a MaxMind DB file/],
    ['truncated', () => GOOD.subarray(0, GOOD.length - 30), /not a MaxMind DB file|corrupt MaxMind DB/],
    ['a damaged tree', corrupt, /corrupt MaxMind DB: node 0 points outside the file/],
    ['still gzipped', () => gzipSync(GOOD), /gzip-compressed/]
  ]
  it.each(cases)('refuses %s at startup, exit 2, naming --geoip', async (name, bytes, message) => {
    const path = await file(`${name.replace(/\W/g, '-')}.mmdb`, bytes())
    const run = await tracker(['--geoip', path])
    expect(run.listened).toBe(false)
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/Invalid option "--geoip"/)
    expect(run.stderr).toMatch(message)
  })

  it('names the variable when the path came from P2PCDN_GEOIP_ASN, and a missing file', async () => {
    const asn = await tracker([], { P2PCDN_GEOIP_ASN: await file('country-as-asn.mmdb', GOOD) })
    expect(asn.code).toBe(2)
    expect(asn.stderr).toMatch(/Invalid option "P2PCDN_GEOIP_ASN": "GeoLite2-Country" is a country\/city database/)
    const missing = await tracker(['--geoip', joinPath(dir, 'nowhere.mmdb')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/Invalid option "--geoip": cannot read/)
  })

  it('starts with a good file (its broken records are only found by lookups)', async () => {
    const regions = await file('regions.json', Buffer.from(JSON.stringify({ countries: { eu: ['DE'] } })))
    const run = await tracker(['--geoip', await file('good.mmdb', GOOD), '--regions', regions])
    expect(run.stderr).not.toMatch(/Invalid option/)
    expect(run.listened).toBe(true)
    expect(run.code).toBe(0)
  })

  it('refuses country rules without a database', async () => {
    const regions = await file('rules.json', Buffer.from(JSON.stringify({ continents: { eu: ['EU'] } })))
    const run = await tracker(['--regions', regions])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/"countries" and "continents" rules need a GeoIP country database/)
  })
})

describe('hostile addresses and records', () => {
  it('leaves garbage addresses and undecodable records without a region, and keeps serving', async () => {
    const t = await trackers.start({ regions: { countries: { eu: ['DE'] } }, geoip: GOOD, trustProxy: true })
    const infoHash = binaryId()
    const garbage = [
      'not-an-ip',
      '::ffff:999.1.1.1',
      '192.0.2.1:8080',
      '[::ffff:192.0.2.1]',
      '192.0.2.1%eth0',
      '%',
      '\u00b9\u00b2.0.2.1', // superscript digits, as latin1 header bytes
      'x'.repeat(4000),
      ':'.repeat(4000),
      '198.51.100.1',
      '198.51.100.200'
    ]
    for (const address of garbage) {
      const client = await trackers.connect(t, { headers: { 'x-forwarded-for': address } })
      expect(await join(client, infoHash, binaryId(), { region: 'claimed' })).toMatchObject({ action: 'announce' })
    }
    // The one real German address, as a dual-stack socket would write it.
    const de = await trackers.connect(t, { headers: { 'x-forwarded-for': '::ffff:192.0.2.9' } })
    await join(de, infoHash, binaryId(), { region: 'claimed' })

    expect(((await getJson(`${t.httpUrl}/stats`)).body as Json).peersByRegion).toEqual({
      claimed: garbage.length,
      eu: 1
    })
    const metrics = await (await fetch(`${t.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^p2pcdn_tracker_geoip_errors_total 2$/m)
    expect((await getJson(`${t.httpUrl}/healthz`)).body).toEqual({ ok: true })
  })
})
