/**
 * GeoIP lookups of client addresses in MaxMind DB files (GeoLite2/GeoIP2 Country or City for
 * the country and continent, GeoLite2-ASN for the network), read with the `maxmind`
 * package's pure-JS reader. One lookup per connection, never per announce.
 *
 * A database is checked when it is opened (format, metadata, every tree record in bounds),
 * so a corrupt file stops the tracker at startup; a record that still fails to decode later
 * makes that one address unknown, counted in `errors`. Decoded records are cached by a
 * bounded cache, so memory does not grow with the number of distinct clients.
 */
import { isIP } from 'node:net'
import { Reader } from 'maxmind'
import type { Response } from 'maxmind'
import { errorMessageOf } from '../../protocol/src/index.js'
import { OptionError } from '../../service/src/options.js'
import { CONTINENT_CODES, COUNTRY_CODES } from './iso-codes.js'
import type { GeoLocation } from './region-map.js'

/** What a database is opened for: country and continent, or the network's ASN. */
export type GeoIpKind = 'country' | 'asn'

/** Where an address is and which network it is on; every field undefined when unknown. */
export interface GeoPlace extends GeoLocation {
  /** Autonomous system number, from the ASN database. */
  readonly asn: number | undefined
}

/** Decoded records kept per database; a GeoLite2-Country file has about 1000 distinct ones. */
export const GEOIP_CACHE_RECORDS = 4096

/** Only `readonly` fields of a record are read, and each one is checked. */
type RawRecord = Response & Readonly<Record<string, unknown>>

/** One opened and checked MaxMind DB. */
export class GeoIpDatabase {
  constructor(
    readonly kind: GeoIpKind,
    /** `database_type` from the metadata, e.g. `GeoLite2-Country`. */
    readonly type: string,
    private readonly reader: Reader<RawRecord>,
    private readonly ipVersion: 4 | 6
  ) {}

  /** The record of `ip` (a valid, unmapped address), or null; throws on a corrupt record. */
  get(ip: string, family: 4 | 6): RawRecord | null {
    // An IPv4 tree has no IPv6 part; walking it with 128 bits would read garbage.
    if (family === 6 && this.ipVersion === 4) return null
    return this.reader.get(ip)
  }
}

/**
 * Open the MaxMind DB in `bytes` for `kind`.
 * @throws OptionError naming `option` when it is not a MaxMind DB, is corrupt, or holds the other kind
 */
export function openGeoIpDatabase(option: string, bytes: Buffer, kind: GeoIpKind): GeoIpDatabase {
  if (!Buffer.isBuffer(bytes)) throw new OptionError(option, 'expected the bytes of a MaxMind DB file')
  if (bytes[0] === 0x1f && bytes[1] === 0x8b)
    throw new OptionError(option, 'the file is gzip-compressed; gunzip the .mmdb first')
  let reader: Reader<RawRecord>
  try {
    reader = new Reader<RawRecord>(bytes, { cache: new BoundedCache(GEOIP_CACHE_RECORDS) })
  } catch (err) {
    throw new OptionError(option, `not a MaxMind DB file (${errorMessageOf(err)})`, { cause: err })
  }
  const meta = reader.metadata
  const corrupt = (what: string): OptionError => new OptionError(option, `corrupt MaxMind DB: ${what}`)
  if (meta.binaryFormatMajorVersion !== 2)
    throw corrupt(`binary format version ${String(meta.binaryFormatMajorVersion)} (expected 2)`)
  if (meta.ipVersion !== 4 && meta.ipVersion !== 6) throw corrupt(`ip_version ${String(meta.ipVersion)}`)
  if (typeof meta.databaseType !== 'string') throw corrupt('no database_type')
  if (!Number.isSafeInteger(meta.nodeCount) || meta.nodeCount < 1) throw corrupt(`node_count ${String(meta.nodeCount)}`)
  const metadataStart = bytes.lastIndexOf(METADATA_MARKER)
  const dataStart = meta.searchTreeSize + SEPARATOR_BYTES
  if (metadataStart === -1 || dataStart > metadataStart) throw corrupt('the search tree is larger than the file')
  for (let i = meta.searchTreeSize; i < dataStart; i++)
    if (bytes[i] !== 0) throw corrupt('no data section separator after the search tree')
  checkTree(bytes, meta.nodeCount, meta.recordSize, metadataStart - dataStart, corrupt)
  checkKind(option, kind, meta.databaseType)
  return new GeoIpDatabase(kind, meta.databaseType, reader, meta.ipVersion)
}

/** "\xAB\xCD\xEFMaxMind.com": the metadata section starts after its last occurrence. */
const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex')
/** 16 zero bytes between the search tree and the data section. */
const SEPARATOR_BYTES = 16

/**
 * Every record must point to a node, to "no data" (the node count) or into the data
 * section: one linear pass (a GeoLite2-City tree has a few million nodes), so that a
 * damaged tree is refused now rather than read past its end on some client's lookup.
 */
function checkTree(
  bytes: Buffer,
  nodeCount: number,
  recordSize: number,
  dataSize: number,
  corrupt: (what: string) => OptionError
): void {
  const nodeBytes = recordSize / 4
  const dataEnd = nodeCount + SEPARATOR_BYTES + dataSize
  for (let node = 0, offset = 0; node < nodeCount; node++, offset += nodeBytes) {
    let left: number
    let right: number
    if (recordSize === 24) {
      left = bytes.readUIntBE(offset, 3)
      right = bytes.readUIntBE(offset + 3, 3)
    } else if (recordSize === 28) {
      left = ((bytes[offset + 3]! & 0xf0) << 20) | bytes.readUIntBE(offset, 3)
      right = ((bytes[offset + 3]! & 0x0f) << 24) | bytes.readUIntBE(offset + 4, 3)
    } else {
      left = bytes.readUInt32BE(offset)
      right = bytes.readUInt32BE(offset + 4)
    }
    const bad = outside(left, nodeCount, dataEnd) ? left : outside(right, nodeCount, dataEnd) ? right : undefined
    if (bad !== undefined) throw corrupt(`node ${node} points outside the file (record ${bad})`)
  }
}

function outside(record: number, nodeCount: number, dataEnd: number): boolean {
  return record > nodeCount && (record < nodeCount + SEPARATOR_BYTES || record >= dataEnd)
}

/** Refuse the likely mix-up of the two files; other types (DB-IP, Enterprise) are trusted. */
function checkKind(option: string, kind: GeoIpKind, type: string): void {
  const geo = /country|city|enterprise/i.test(type)
  const asn = /asn|isp|enterprise/i.test(type)
  if (kind === 'country' && asn && !geo)
    throw new OptionError(option, `"${type.slice(0, 64)}" is an ASN database; give it to --geoip-asn (geoipAsn)`)
  if (kind === 'asn' && geo && !asn)
    throw new OptionError(option, `"${type.slice(0, 64)}" is a country/city database; give it to --geoip (geoip)`)
}

const UNKNOWN: GeoPlace = { country: undefined, continent: undefined, asn: undefined }

/** Country, continent and ASN of client addresses, from whichever databases are set. */
export class GeoIp {
  /** Lookups that failed on a record the database could not decode. */
  errors = 0

  constructor(
    readonly country?: GeoIpDatabase,
    readonly asn?: GeoIpDatabase
  ) {}

  get enabled(): boolean {
    return this.country !== undefined || this.asn !== undefined
  }

  /**
   * Where `address` is; never throws. Takes what a socket or `X-Forwarded-For` gives:
   * IPv4, IPv6 (a zone id is dropped), IPv4-mapped IPv6 (looked up as the IPv4 address),
   * or anything else, which is unknown.
   */
  lookup(address: string): GeoPlace {
    if (!this.enabled) return UNKNOWN
    const ip = normalise(address)
    if (ip === undefined) return UNKNOWN
    const family = isIP(ip) === 4 ? 4 : 6
    const geo = this.record(this.country, ip, family)
    const net = this.record(this.asn, ip, family)
    if (geo === undefined && net === undefined) return UNKNOWN
    return {
      country: geo === undefined ? undefined : countryOf(geo),
      continent: geo === undefined ? undefined : codeIn(field(geo, 'continent', 'code'), CONTINENT_CODES),
      asn: net === undefined ? undefined : asnOf(net)
    }
  }

  private record(db: GeoIpDatabase | undefined, ip: string, family: 4 | 6): RawRecord | undefined {
    if (db === undefined) return undefined
    try {
      const record = db.get(ip, family)
      return typeof record === 'object' && record !== null ? record : undefined
    } catch {
      this.errors++
      return undefined
    }
  }
}

/** Where the client is; else (anycast, satellite links) where its network is registered. */
function countryOf(record: RawRecord): string | undefined {
  return (
    codeIn(field(record, 'country', 'iso_code'), COUNTRY_CODES) ??
    codeIn(field(record, 'registered_country', 'iso_code'), COUNTRY_CODES)
  )
}

function asnOf(record: RawRecord): number | undefined {
  const asn = record.autonomous_system_number
  return typeof asn === 'number' && Number.isInteger(asn) && asn > 0 && asn <= 0xffffffff ? asn : undefined
}

function field(record: RawRecord, outer: string, inner: string): unknown {
  const value = record[outer]
  return typeof value === 'object' && value !== null ? (value as Readonly<Record<string, unknown>>)[inner] : undefined
}

function codeIn(value: unknown, codes: ReadonlySet<string>): string | undefined {
  return typeof value === 'string' && codes.has(value) ? value : undefined
}

/** The longest IPv6 text (45 characters, with an IPv4 tail) plus a zone id of an interface name. */
const MAX_ADDRESS_LENGTH = 45 + 1 + 32

/** A valid address as the reader takes it, or undefined. */
function normalise(address: string): string | undefined {
  if (typeof address !== 'string' || address.length > MAX_ADDRESS_LENGTH) return undefined
  const version = isIP(address)
  if (version === 4) return address
  if (version === 0) return undefined
  // Only IPv6 may carry a zone id (fe80::1%eth0); the reader would choke on it.
  const zone = address.indexOf('%')
  const bare = zone === -1 ? address : address.slice(0, zone)
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  return mapped === null ? bare : mapped[1]
}

/**
 * What the reader's decoder caches records in (by file offset): at most `max` entries,
 * the least recently used dropped first. A Map iterates in insertion order, so
 * re-inserting on use keeps that order.
 */
export class BoundedCache {
  private readonly entries = new Map<string | number, unknown>()

  constructor(private readonly max: number) {}

  get size(): number {
    return this.entries.size
  }

  get(key: string | number): unknown {
    const value = this.entries.get(key)
    if (value !== undefined) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }

  set(key: string | number, value: unknown): void {
    this.entries.delete(key)
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!)
    this.entries.set(key, value)
  }
}
