/** GeoIP: lookups in MaxMind DBs built by the test, hostile addresses, and files refused when opened. */
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { BoundedCache, GeoIp, openGeoIpDatabase } from '../../../tracker/src/geoip.js'
import type { GeoIpKind } from '../../../tracker/src/geoip.js'
import { METADATA_MARKER, encode, pointer, writeMmdb } from '../../helpers/mmdb-writer.js'
import type { MmdbNetwork } from '../../helpers/mmdb-writer.js'

const place = (country: string, continent: string): MmdbNetwork['data'] => ({
  country: { iso_code: country, names: { en: country } },
  continent: { code: continent }
})

const COUNTRIES: MmdbNetwork[] = [
  { cidr: '192.0.2.0/24', data: place('DE', 'EU') },
  { cidr: '192.0.2.128/25', data: place('FR', 'EU') },
  { cidr: '2001:db8:1::/48', data: place('US', 'NA') },
  // Anycast: no country, only where the network is registered.
  { cidr: '198.51.100.0/24', data: { registered_country: { iso_code: 'NL' }, continent: { code: 'EU' } } },
  // What a hostile or broken file may hold: not codes at all.
  { cidr: '203.0.113.0/25', data: { country: { iso_code: 'de' }, continent: { code: 'Europe' } } },
  { cidr: '203.0.113.128/25', data: { country: { iso_code: 7 }, continent: 'EU' } }
]
const NETWORKS: MmdbNetwork[] = [
  { cidr: '192.0.2.0/24', data: { autonomous_system_number: 64500, autonomous_system_organization: 'Example' } },
  { cidr: '2001:db8:1::/48', data: { autonomous_system_number: 64501 } },
  { cidr: '198.51.100.0/25', data: { autonomous_system_number: 0 } },
  { cidr: '198.51.100.128/25', data: { autonomous_system_number: '64502' } }
]

function open(networks: MmdbNetwork[], kind: GeoIpKind, options: Parameters<typeof writeMmdb>[1]) {
  return openGeoIpDatabase('geoip', writeMmdb(networks, options), kind)
}

describe('GeoIp.lookup', () => {
  for (const recordSize of [24, 28, 32] as const) {
    it(`finds country, continent and ASN (${recordSize}-bit records)`, () => {
      const geo = new GeoIp(
        open(COUNTRIES, 'country', { databaseType: 'GeoLite2-Country', recordSize }),
        open(NETWORKS, 'asn', { databaseType: 'GeoLite2-ASN', recordSize })
      )
      expect(geo.lookup('192.0.2.1')).toEqual({ country: 'DE', continent: 'EU', asn: 64500 })
      expect(geo.lookup('192.0.2.200')).toEqual({ country: 'FR', continent: 'EU', asn: 64500 })
      expect(geo.lookup('2001:db8:1::9')).toEqual({ country: 'US', continent: 'NA', asn: 64501 })
      expect(geo.lookup('192.0.3.1')).toEqual({ country: undefined, continent: undefined, asn: undefined })
    })
  }

  it.each([
    ['::ffff:192.0.2.1', 'DE'],
    ['::FFFF:192.0.2.1', 'DE'],
    ['2001:db8:1::9%eth0', 'US'],
    ['2001:DB8:1:0:0:0:0:9', 'US']
  ])('reads %s as an address of %s', (address, country) => {
    const geo = new GeoIp(open(COUNTRIES, 'country', { databaseType: 'GeoLite2-Country' }))
    expect(geo.lookup(address).country).toBe(country)
  })

  it.each([
    'not an ip',
    '',
    '192.0.2',
    '192.0.2.1.5',
    '999.0.2.1',
    '::ffff:999.0.2.1',
    '192.0.2.1:8080',
    '192.0.2.1%eth0',
    '[2001:db8:1::9]',
    '%',
    '0x7f.0.0.1',
    '１９２.0.2.1',
    `192.0.2.1${' '.repeat(8000)}`,
    ':'.repeat(10_000)
  ])('knows nothing of %j, without throwing', address => {
    const geo = new GeoIp(open(COUNTRIES, 'country', { databaseType: 'GeoLite2-Country' }))
    expect(geo.lookup(address)).toEqual({ country: undefined, continent: undefined, asn: undefined })
    expect(geo.errors).toBe(0)
  })

  it('takes the registered country when the record has no country, and refuses what is not a code', () => {
    const geo = new GeoIp(
      open(COUNTRIES, 'country', { databaseType: 'GeoLite2-Country' }),
      open(NETWORKS, 'asn', { databaseType: 'GeoLite2-ASN' })
    )
    expect(geo.lookup('198.51.100.1')).toEqual({ country: 'NL', continent: 'EU', asn: undefined })
    expect(geo.lookup('198.51.100.129').asn).toBeUndefined()
    expect(geo.lookup('203.0.113.1')).toEqual({ country: undefined, continent: undefined, asn: undefined })
    expect(geo.lookup('203.0.113.129')).toEqual({ country: undefined, continent: undefined, asn: undefined })
  })

  it('looks up no IPv6 address in an IPv4 database', () => {
    const v4 = COUNTRIES.filter(n => !n.cidr.includes(':'))
    const geo = new GeoIp(open(v4, 'country', { databaseType: 'GeoLite2-Country', ipVersion: 4 }))
    expect(geo.lookup('192.0.2.1').country).toBe('DE')
    // In a 32-bit tree the first bits of 2001:: would lead somewhere arbitrary.
    expect(geo.lookup('c000:0200::1').country).toBeUndefined()
  })

  it('counts a record that will not decode, or points at itself, and leaves that address unknown', () => {
    const broken: MmdbNetwork[] = [
      ...COUNTRIES,
      // An extended type byte of 0: "Invalid Extended Type".
      { cidr: '10.0.0.0/24', data: { raw: () => Buffer.from([0x00, 0x00]) } },
      // A map whose one value is a pointer back to the map: endless without a bound.
      {
        cidr: '10.0.1.0/24',
        data: { raw: offset => Buffer.concat([Buffer.from([0xe1]), encode('country'), pointer(offset)]) }
      }
    ]
    const geo = new GeoIp(open(broken, 'country', { databaseType: 'GeoLite2-Country' }))
    expect(geo.lookup('10.0.0.1').country).toBeUndefined()
    expect(geo.lookup('10.0.1.1').country).toBeUndefined()
    expect(geo.errors).toBe(2)
    expect(geo.lookup('192.0.2.1').country).toBe('DE')
  })

  it('knows nothing without databases', () => {
    expect(new GeoIp().lookup('192.0.2.1')).toEqual({ country: undefined, continent: undefined, asn: undefined })
  })
})

describe('openGeoIpDatabase', () => {
  const good = writeMmdb(COUNTRIES, { databaseType: 'GeoLite2-Country' })
  const treeBytes = (): number => good.indexOf(Buffer.alloc(16))

  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /not a MaxMind DB file/],
    ['text', Buffer.from('{"countries": {}}'), /not a MaxMind DB file/],
    ['gzip-compressed', gzipSync(good), /gzip-compressed/],
    ['cut short (no metadata)', good.subarray(0, good.length - 40), /not a MaxMind DB file|corrupt/],
    [
      'a tree record past the data section',
      (() => {
        const bad = Buffer.from(good)
        bad.writeUIntBE(0xfffff0, 0, 3)
        return bad
      })(),
      /corrupt MaxMind DB: node 0 points outside the file/
    ],
    [
      'no separator after the tree',
      (() => {
        const bad = Buffer.from(good)
        bad[treeBytes() + 3] = 1
        return bad
      })(),
      /corrupt MaxMind DB: no data section separator/
    ],
    [
      'a node count larger than the file',
      Buffer.concat([
        good.subarray(0, good.lastIndexOf(METADATA_MARKER)),
        METADATA_MARKER,
        encode({
          binary_format_major_version: 2,
          binary_format_minor_version: 0,
          build_epoch: 1,
          database_type: 'GeoLite2-Country',
          description: {},
          ip_version: 6,
          languages: [],
          node_count: 1_000_000,
          record_size: 24
        })
      ]),
      /corrupt MaxMind DB: the search tree is larger than the file/
    ]
  ]
  it.each(cases)('refuses a file that is %s, naming the option', (_what, bytes, message) => {
    let error: unknown
    try {
      openGeoIpDatabase('--geoip', bytes, 'country')
    } catch (err) {
      error = err
    }
    expect(error).toMatchObject({ name: 'OptionError', option: '--geoip' })
    expect((error as Error).message).toMatch(message)
  })

  it('refuses an ASN database as the country one, and the other way round', () => {
    const asn = writeMmdb(NETWORKS, { databaseType: 'GeoLite2-ASN' })
    expect(() => openGeoIpDatabase('--geoip', asn, 'country')).toThrow(/is an ASN database; give it to --geoip-asn/)
    expect(() => openGeoIpDatabase('--geoip-asn', good, 'asn')).toThrow(/is a country\/city database/)
    // Types it cannot tell apart are trusted.
    const dbip = writeMmdb(COUNTRIES, { databaseType: 'ipinfo lite' })
    expect(openGeoIpDatabase('--geoip', dbip, 'country').type).toBe('ipinfo lite')
  })
})

describe('BoundedCache', () => {
  it('holds at most max entries and drops the least recently used', () => {
    const cache = new BoundedCache(2)
    cache.set(1, 'a')
    cache.set(2, 'b')
    expect(cache.get(1)).toBe('a')
    cache.set(3, 'c')
    expect([cache.get(1), cache.get(2), cache.get(3)]).toEqual(['a', undefined, 'c'])
    for (let i = 0; i < 100; i++) cache.set(i + 10, i)
    expect(cache.size).toBe(2)
  })
})
