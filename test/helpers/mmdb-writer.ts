/**
 * A minimal MaxMind DB writer, for tests that need a small GeoIP database of their own (no
 * maintained writer is on npm: `npm view mmdb-writer` is a 404). It follows the MaxMind DB
 * format 2.0 (https://maxmind.github.io/MaxMind-DB/): a binary search tree over the address
 * bits whose records point to other nodes, to "no data" (= node count) or into the data
 * section (node count + 16 + offset); then 16 zero bytes; then the data section; then
 * "\xAB\xCD\xEFMaxMind.com" and the metadata map. Data values are written without pointers
 * (duplicates are simply written again), which readers accept.
 */
import { isIP } from 'node:net'

/** What the data section can hold here: maps, arrays, strings, unsigned integers, booleans, doubles. */
export type MmdbValue = string | number | boolean | MmdbValue[] | { [key: string]: MmdbValue }

export interface MmdbNetwork {
  /** `10.1.0.0/16` or `2001:db8::/32`; IPv4 networks sit at ::/96 in an IPv6 tree. */
  cidr: string
  /** The record, encoded here; or `raw` bytes given its own offset in the data section (to write broken records). */
  data: MmdbValue | { raw: (offset: number) => Buffer }
}

export interface MmdbOptions {
  /** e.g. `GeoLite2-Country`, `GeoLite2-ASN`. */
  databaseType: string
  /** @default 6 */
  ipVersion?: 4 | 6
  /** Bits per record. @default 24 */
  recordSize?: 24 | 28 | 32
}

interface TreeNode {
  children: [Child, Child]
}
type Child = TreeNode | { data: number } | undefined

export const METADATA_MARKER = Buffer.from('abcdef4d61784d696e642e636f6d', 'hex')

/**
 * The bytes of a MaxMind DB holding `networks`. A more specific network inside a broader
 * one overrides it there, whatever their order.
 */
export function writeMmdb(networks: MmdbNetwork[], options: MmdbOptions): Buffer {
  const ipVersion = options.ipVersion ?? 6
  const recordSize = options.recordSize ?? 24
  const data: Buffer[] = []
  let dataSize = 0
  const root: TreeNode = { children: [undefined, undefined] }
  const sorted = networks.map(n => ({ ...parseNetwork(n.cidr, ipVersion), value: n.data }))
  sorted.sort((a, b) => a.prefix - b.prefix)
  for (const network of sorted) {
    const value = network.value
    const bytes =
      typeof value === 'object' && 'raw' in value && typeof value.raw === 'function'
        ? value.raw(dataSize)
        : encode(value as MmdbValue)
    const leaf = { data: dataSize }
    data.push(bytes)
    dataSize += bytes.length
    insert(root, network.bits, network.prefix, leaf)
  }

  // Breadth-first numbering; node 0 is the root.
  const nodes: TreeNode[] = [root]
  for (let i = 0; i < nodes.length; i++) {
    for (const child of nodes[i]!.children) if (child !== undefined && 'children' in child) nodes.push(child)
  }
  const index = new Map(nodes.map((node, i) => [node, i]))
  const nodeCount = nodes.length
  const recordOf = (child: Child): number => {
    if (child === undefined) return nodeCount
    if ('children' in child) return index.get(child)!
    return nodeCount + 16 + child.data
  }
  const nodeBytes = recordSize / 4
  const tree = Buffer.alloc(nodeCount * nodeBytes)
  nodes.forEach((node, i) => {
    writeNode(tree, i * nodeBytes, recordSize, recordOf(node.children[0]), recordOf(node.children[1]))
  })

  const metadata = encode({
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: Math.floor(Date.now() / 1000),
    database_type: options.databaseType,
    description: { en: `test ${options.databaseType}` },
    ip_version: ipVersion,
    languages: ['en'],
    node_count: nodeCount,
    record_size: recordSize
  })
  return Buffer.concat([tree, Buffer.alloc(16), ...data, METADATA_MARKER, metadata])
}

function parseNetwork(cidr: string, ipVersion: 4 | 6): { bits: number[]; prefix: number } {
  const [address = '', length] = cidr.split('/')
  const version = isIP(address)
  if (version === 0) throw new Error(`not an address: ${cidr}`)
  if (version === 6 && ipVersion === 4) throw new Error(`IPv6 network ${cidr} in an IPv4 database`)
  const bytes = version === 4 ? ipv4Bytes(address) : ipv6Bytes(address)
  const own = Number(length ?? bytes.length * 8)
  const pad = version === 4 && ipVersion === 6 ? 96 : 0
  const bits = [...Array<number>(pad).fill(0)]
  for (const byte of bytes) for (let b = 7; b >= 0; b--) bits.push((byte >> b) & 1)
  return { bits, prefix: pad + own }
}

function ipv4Bytes(address: string): number[] {
  return address.split('.').map(Number)
}

function ipv6Bytes(address: string): number[] {
  const [head = '', tail] = address.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const words = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right].map(w =>
    parseInt(w, 16)
  )
  return words.flatMap(w => [w >> 8, w & 0xff])
}

function insert(root: TreeNode, bits: number[], prefix: number, leaf: { data: number }): void {
  let node = root
  for (let depth = 0; depth < prefix - 1; depth++) {
    const bit = bits[depth]!
    const child = node.children[bit]
    if (child === undefined || !('children' in child)) {
      // A broader network's data covers this branch: push it down to both halves.
      const next: TreeNode = { children: [child, child] }
      node.children[bit] = next
      node = next
    } else node = child
  }
  // Networks go in broadest first, so whatever is here is broader (or the same): replaced.
  node.children[bits[prefix - 1]!] = leaf
}

function writeNode(tree: Buffer, offset: number, recordSize: number, left: number, right: number): void {
  if (recordSize === 24) {
    tree.writeUIntBE(left, offset, 3)
    tree.writeUIntBE(right, offset + 3, 3)
  } else if (recordSize === 28) {
    tree.writeUIntBE(left & 0xffffff, offset, 3)
    tree[offset + 3] = ((left >>> 24) << 4) | (right >>> 24)
    tree.writeUIntBE(right & 0xffffff, offset + 4, 3)
  } else {
    tree.writeUInt32BE(left, offset)
    tree.writeUInt32BE(right, offset + 4)
  }
}

/** A pointer to `offset` in the data section (offsets under 2048: the two-byte form). */
export function pointer(offset: number): Buffer {
  if (offset >= 2048) throw new Error('pointer offset too large for this writer')
  return Buffer.from([0x20 | (offset >> 8), offset & 0xff])
}

/** Data section types (MaxMind DB spec, "Output Data Section"). */
const TYPE = { string: 2, double: 3, uint16: 5, uint32: 6, map: 7, uint64: 9, array: 11, boolean: 14 } as const

/** One value in the data section's encoding. */
export function encode(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8')
    return Buffer.concat([control(TYPE.string, bytes.length), bytes])
  }
  if (typeof value === 'boolean') return control(TYPE.boolean, value ? 1 : 0)
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) {
      const bytes = Buffer.alloc(8)
      bytes.writeDoubleBE(value)
      return Buffer.concat([control(TYPE.double, 8), bytes])
    }
    const bytes = unsignedBytes(value)
    const type = value <= 0xffff ? TYPE.uint16 : value <= 0xffffffff ? TYPE.uint32 : TYPE.uint64
    return Buffer.concat([control(type, bytes.length), bytes])
  }
  if (Array.isArray(value)) return Buffer.concat([control(TYPE.array, value.length), ...value.map(encode)])
  const entries = Object.entries(value)
  return Buffer.concat([control(TYPE.map, entries.length), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])])
}

function unsignedBytes(value: number): Buffer {
  const bytes: number[] = []
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256)
  return Buffer.from(bytes)
}

/** The control byte(s): type in the top 3 bits (extended types in a second byte), then the size. */
export function control(type: number, size: number): Buffer {
  const typeBits = type <= 7 ? type << 5 : 0
  const extended = type <= 7 ? [] : [type - 7]
  if (size < 29) return Buffer.from([typeBits | size, ...extended])
  if (size < 29 + 256) return Buffer.from([typeBits | 29, ...extended, size - 29])
  if (size < 285 + 65_536) return Buffer.from([typeBits | 30, ...extended, (size - 285) >> 8, (size - 285) & 0xff])
  const rest = size - 65_821
  return Buffer.from([typeBits | 31, ...extended, rest >> 16, (rest >> 8) & 0xff, rest & 0xff])
}
