/**
 * Which region an address is in and which regions are neighbours of which. The operator's
 * CIDR blocks decide first (longest prefix wins), then the address's country, then its
 * continent (both from a GeoIP database, `geoip.ts`). Regions are plain names; "near" is
 * whatever the map says, since the tracker has no geography of its own.
 */
import { BlockList, isIP } from 'node:net'
import { OptionError } from '../../service/src/options.js'
import { CONTINENT_CODES, COUNTRY_CODES } from './iso-codes.js'

/** The map as written in a config file or passed to `createTracker`. */
export interface RegionMapInit {
  /**
   * Region → CIDR blocks, e.g. `{ "eu": ["10.1.0.0/16", "2001:db8:1::/48"] }`.
   * @default {}
   */
  cidrs?: Record<string, string[]>
  /**
   * Region → ISO 3166-1 alpha-2 country codes, e.g. `{ "eu": ["DE", "FR"] }`: an address no
   * CIDR block matches is in the region of its country (needs a GeoIP database).
   * @default {}
   */
  countries?: Record<string, string[]>
  /**
   * Region → continent codes (`AF`, `AN`, `AS`, `EU`, `NA`, `OC`, `SA`, as MaxMind gives
   * them), e.g. `{ "eu": ["EU"] }`: for an address whose country no region lists.
   * @default {}
   */
  continents?: Record<string, string[]>
  /**
   * Region → regions to try, in order, when it has too few peers (or edges) of its own,
   * e.g. `{ "eu": ["us"] }`.
   * @default {}
   */
  neighbours?: Record<string, string[]>
}

/** The country and continent of an address, as far as a GeoIP database knows them. */
export interface GeoLocation {
  readonly country: string | undefined
  readonly continent: string | undefined
}

interface CidrEntry {
  region: string
  prefix: number
  family: 'ipv4' | 'ipv6'
  block: BlockList
}

/** Longest-prefix lookup of an address's region, and the neighbours of each region. */
export class RegionMap {
  /** Most specific first, so the first match is the longest prefix. */
  private readonly entries: CidrEntry[]
  private readonly neighbourMap: ReadonlyMap<string, readonly string[]>
  private readonly byCountry: ReadonlyMap<string, string>
  private readonly byContinent: ReadonlyMap<string, string>

  constructor(
    entries: CidrEntry[],
    neighbours: ReadonlyMap<string, readonly string[]>,
    byCountry: ReadonlyMap<string, string> = new Map(),
    byContinent: ReadonlyMap<string, string> = new Map()
  ) {
    this.entries = entries.sort((a, b) => b.prefix - a.prefix)
    this.neighbourMap = neighbours
    this.byCountry = byCountry
    this.byContinent = byContinent
  }

  get size(): number {
    return this.entries.length
  }

  /** Whether any country or continent rule is set, which only a GeoIP database can apply. */
  get hasGeoRules(): boolean {
    return this.byCountry.size > 0 || this.byContinent.size > 0
  }

  /**
   * Region of `address` (IPv4, IPv6 or IPv4-mapped IPv6): the longest CIDR block that
   * holds it, else the region of `location`'s country, else of its continent; undefined
   * when none matches.
   */
  regionOf(address: string | undefined, location?: GeoLocation): string | undefined {
    return this.cidrRegionOf(address) ?? this.geoRegionOf(location)
  }

  /** Neighbour regions of `region`, nearest first; empty when none are configured. */
  neighbours(region: string): readonly string[] {
    return this.neighbourMap.get(region) ?? NONE
  }

  private cidrRegionOf(address: string | undefined): string | undefined {
    if (address === undefined || this.entries.length === 0) return undefined
    const ip = unmapIpv4(address)
    const family = isIP(ip) === 4 ? 'ipv4' : isIP(ip) === 6 ? 'ipv6' : undefined
    if (family === undefined) return undefined
    for (const entry of this.entries) {
      if (entry.family === family && entry.block.check(ip, family)) return entry.region
    }
    return undefined
  }

  private geoRegionOf(location: GeoLocation | undefined): string | undefined {
    if (location === undefined) return undefined
    const byCountry = location.country === undefined ? undefined : this.byCountry.get(location.country)
    return byCountry ?? (location.continent === undefined ? undefined : this.byContinent.get(location.continent))
  }
}

const NONE: readonly string[] = []

/**
 * Validate and compile a region map.
 * @throws TypeError naming the bad entry
 */
export function parseRegionMap(init: RegionMapInit): RegionMap {
  // For callers from plain JavaScript, which the type does not hold back.
  const raw: unknown = init
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new OptionError('regions', 'expected an object')
  const unknown = Object.keys(raw).find(key => !(FIELDS as readonly string[]).includes(key))
  if (unknown !== undefined) {
    throw new OptionError(
      'regions',
      `unknown field ${JSON.stringify(unknown.slice(0, 64))} (expected ${FIELDS.map(f => `"${f}"`).join(', ')})`
    )
  }
  for (const field of FIELDS) {
    const value: unknown = init[field]
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value)))
      throw new OptionError('regions', `${field} must be an object of region names`)
  }
  const entries: CidrEntry[] = []
  for (const [region, cidrs] of Object.entries(init.cidrs ?? {})) {
    if (!Array.isArray(cidrs)) throw new OptionError('regions', `cidrs.${region} must be an array of CIDR strings`)
    for (const cidr of cidrs) entries.push(parseCidr(region, cidr))
  }
  const neighbours = new Map<string, readonly string[]>()
  for (const [region, list] of Object.entries(init.neighbours ?? {})) {
    if (!Array.isArray(list) || !list.every(name => typeof name === 'string' && name !== '')) {
      throw new OptionError('regions', `neighbours.${region} must be an array of region names`)
    }
    neighbours.set(
      region,
      list.filter(name => name !== region)
    )
  }
  const byCountry = parseCodes('countries', init.countries, COUNTRY_CODES, 'an ISO 3166-1 alpha-2 country code')
  const byContinent = parseCodes('continents', init.continents, CONTINENT_CODES, 'a continent code')
  return new RegionMap(entries, neighbours, byCountry, byContinent)
}

const FIELDS = ['cidrs', 'countries', 'continents', 'neighbours'] as const

/** Code → region, from region → codes; a code in two regions is refused, as either would be a guess. */
function parseCodes(
  field: 'countries' | 'continents',
  regions: Record<string, string[]> | undefined,
  known: ReadonlySet<string>,
  what: string
): Map<string, string> {
  const byCode = new Map<string, string>()
  for (const [region, codes] of Object.entries(regions ?? {})) {
    if (region === '') throw new OptionError('regions', `${field} has an empty region name`)
    if (!Array.isArray(codes)) throw new OptionError('regions', `${field}.${region} must be an array of codes`)
    for (const code of codes as unknown[]) {
      if (typeof code !== 'string' || !known.has(code)) {
        const shown = typeof code === 'string' ? JSON.stringify(code.slice(0, 16)) : String(code)
        throw new OptionError(
          'regions',
          `${shown} in ${field}.${region} is not ${what} (upper case, e.g. ${field === 'countries' ? '"DE"' : '"EU"'})`
        )
      }
      const other = byCode.get(code)
      if (other !== undefined && other !== region)
        throw new OptionError('regions', `"${code}" is in both ${field}.${other} and ${field}.${region}`)
      byCode.set(code, region)
    }
  }
  return byCode
}

function parseCidr(region: string, cidr: unknown): CidrEntry {
  const bad = (): TypeError => new OptionError('regions', `"${String(cidr)}" in cidrs.${region} is not a CIDR block`)
  if (typeof cidr !== 'string') throw bad()
  const [address = '', bits] = cidr.split('/')
  const version = isIP(address)
  if (version === 0) throw bad()
  const family = version === 4 ? 'ipv4' : 'ipv6'
  const max = version === 4 ? 32 : 128
  const prefix = bits === undefined ? max : Number(bits)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (bits !== undefined && !/^\d+$/.test(bits)))
    throw bad()
  const block = new BlockList()
  block.addSubnet(address, prefix, family)
  return { region, prefix, family, block }
}

/** `::ffff:10.0.0.1` (how a dual-stack socket reports IPv4 peers) → `10.0.0.1`. */
function unmapIpv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}
