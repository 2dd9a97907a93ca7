/**
 * Which region an address is in (a CIDR-to-region map, longest prefix wins) and which
 * regions are neighbours of which. Regions are plain names; "near" is whatever the map
 * says, since the tracker has no geography of its own.
 */
import { BlockList, isIP } from 'node:net'

/** The map as written in a config file or passed to `createTracker`. */
export interface RegionMapInit {
  /**
   * Region → CIDR blocks, e.g. `{ "eu": ["10.1.0.0/16", "2001:db8:1::/48"] }`.
   * @default {}
   */
  cidrs?: Record<string, string[]>
  /**
   * Region → regions to try, in order, when it has too few peers (or edges) of its own,
   * e.g. `{ "eu": ["us"] }`.
   * @default {}
   */
  neighbours?: Record<string, string[]>
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

  constructor(entries: CidrEntry[], neighbours: ReadonlyMap<string, readonly string[]>) {
    this.entries = entries.sort((a, b) => b.prefix - a.prefix)
    this.neighbourMap = neighbours
  }

  get size(): number {
    return this.entries.length
  }

  /** Region of `address` (IPv4, IPv6 or IPv4-mapped IPv6), or undefined when no block matches. */
  regionOf(address: string | undefined): string | undefined {
    if (address === undefined || this.entries.length === 0) return undefined
    const ip = unmapIpv4(address)
    const family = isIP(ip) === 4 ? 'ipv4' : isIP(ip) === 6 ? 'ipv6' : undefined
    if (family === undefined) return undefined
    for (const entry of this.entries) {
      if (entry.family === family && entry.block.check(ip, family)) return entry.region
    }
    return undefined
  }

  /** Neighbour regions of `region`, nearest first; empty when none are configured. */
  neighbours(region: string): readonly string[] {
    return this.neighbourMap.get(region) ?? NONE
  }
}

const NONE: readonly string[] = []

/**
 * Validate and compile a region map.
 * @throws TypeError naming the bad entry
 */
export function parseRegionMap(init: RegionMapInit): RegionMap {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- from a JSON file or a JavaScript caller
  if (typeof init !== 'object' || init === null) throw new TypeError('Invalid option "regions": expected an object')
  const entries: CidrEntry[] = []
  for (const [region, cidrs] of Object.entries(init.cidrs ?? {})) {
    if (!Array.isArray(cidrs))
      throw new TypeError(`Invalid option "regions": cidrs.${region} must be an array of CIDR strings`)
    for (const cidr of cidrs) entries.push(parseCidr(region, cidr))
  }
  const neighbours = new Map<string, readonly string[]>()
  for (const [region, list] of Object.entries(init.neighbours ?? {})) {
    if (!Array.isArray(list) || !list.every(name => typeof name === 'string' && name !== '')) {
      throw new TypeError(`Invalid option "regions": neighbours.${region} must be an array of region names`)
    }
    neighbours.set(
      region,
      list.filter(name => name !== region)
    )
  }
  return new RegionMap(entries, neighbours)
}

function parseCidr(region: string, cidr: unknown): CidrEntry {
  const bad = (): TypeError =>
    new TypeError(`Invalid option "regions": "${String(cidr)}" in cidrs.${region} is not a CIDR block`)
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
