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
