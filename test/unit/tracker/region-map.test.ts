/** RegionMap: longest-prefix CIDR lookup over IPv4, IPv6 and IPv4-mapped IPv6, and neighbours. */
import { describe, expect, it } from 'vitest'
import { parseRegionMap } from '../../../tracker/src/region-map.js'

describe('RegionMap', () => {
  const map = parseRegionMap({
    cidrs: { eu: ['10.0.0.0/8', '2001:db8::/32'], paris: ['10.7.0.0/16'], host: ['10.7.0.9'] },
    neighbours: { paris: ['eu', 'paris'] }
  })

  it.each([
    ['10.1.2.3', 'eu'],
    ['10.7.1.1', 'paris'],
    ['10.7.0.9', 'host'],
    ['::ffff:10.7.1.1', 'paris'],
    ['2001:db8:1::1', 'eu'],
    ['192.0.2.1', undefined],
    ['not an ip', undefined],
    [undefined, undefined]
  ])('%s is in %s', (address, region) => {
    expect(map.regionOf(address)).toBe(region)
  })

  it('lists neighbours without the region itself, and none for unknown regions', () => {
    expect(map.neighbours('paris')).toEqual(['eu'])
    expect(map.neighbours('mars')).toEqual([])
  })

  it.each([
    [{ cidrs: { eu: ['10.0.0.0/40'] } }],
    [{ cidrs: { eu: ['10.0.0/8'] } }],
    [{ cidrs: { eu: '10.0.0.0/8' } }],
    [{ neighbours: { eu: [1] } }]
  ])('rejects %j with a TypeError', init => {
    expect(() => parseRegionMap(init as never)).toThrow(TypeError)
  })
})

describe('RegionMap country and continent rules', () => {
  const map = parseRegionMap({
    cidrs: { lab: ['10.0.0.0/8'] },
    countries: { eu: ['DE', 'FR'], us: ['US', 'CA'] },
    continents: { eu: ['EU'], as: ['AS'] }
  })
  const at = (country?: string, continent?: string) => ({ country, continent })

  it.each([
    ['10.1.2.3', at('US', 'NA'), 'lab'],
    ['192.0.2.1', at('DE', 'EU'), 'eu'],
    ['192.0.2.1', at('CA', 'NA'), 'us'],
    ['192.0.2.1', at('IT', 'EU'), 'eu'],
    ['192.0.2.1', at('US', 'EU'), 'us'],
    ['192.0.2.1', at(undefined, 'AS'), 'as'],
    ['192.0.2.1', at('BR', 'SA'), undefined],
    ['192.0.2.1', at(), undefined],
    ['192.0.2.1', undefined, undefined]
  ])('%s in %j is in %s: CIDR first, then country, then continent', (address, location, region) => {
    expect(map.regionOf(address, location)).toBe(region)
  })

  it('says when it has rules only a GeoIP database can apply', () => {
    expect(map.hasGeoRules).toBe(true)
    expect(parseRegionMap({ cidrs: { lab: ['10.0.0.0/8'] } }).hasGeoRules).toBe(false)
  })

  it.each([
    [
      { country: { eu: ['DE'] } },
      /unknown field "country" \(expected "cidrs", "countries", "continents", "neighbours"\)/
    ],
    [{ countries: { eu: ['UK'] } }, /"UK" in countries.eu is not an ISO 3166-1 alpha-2 country code/],
    [{ countries: { eu: ['de'] } }, /"de" in countries.eu is not an ISO 3166-1 alpha-2/],
    [{ countries: { eu: [49] } }, /49 in countries.eu is not/],
    [{ countries: { eu: 'DE' } }, /countries.eu must be an array of codes/],
    [{ countries: ['DE'] }, /countries must be an object of region names/],
    [{ countries: { eu: ['DE'], de: ['DE'] } }, /"DE" is in both countries.eu and countries.de/],
    [{ continents: { eu: ['Europe'] } }, /"Europe" in continents.eu is not a continent code/],
    [{ continents: { '': ['EU'] } }, /continents has an empty region name/]
  ])('refuses %j, saying what is wrong', (init, message) => {
    expect(() => parseRegionMap(init as never)).toThrow(message)
  })
})
