/**
 * The key a client address is counted under for the per-address limits. An IPv4 address
 * (or an IPv4-mapped IPv6 one) is itself; an IPv6 address counts by its /64 prefix,
 * because one subscriber is usually handed a whole /64 (RFC 6177) and could otherwise
 * take a fresh budget with every one of its 2^64 addresses.
 */
import { isIP } from 'node:net'

/** Hextets of a /64. */
const PREFIX_HEXTETS = 4

export function addressKey(ip: string): string {
  const zone = ip.indexOf('%')
  const bare = zone === -1 ? ip : ip.slice(0, zone)
  if (isIP(bare) !== 6) return bare
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  if (mapped !== null) return mapped[1]!
  const hextets = expand(bare)
  return `${hextets.slice(0, PREFIX_HEXTETS).join(':')}::/64`
}

/** Eight hextets, without leading zeros, of a valid IPv6 address. */
function expand(ip: string): string[] {
  const [head = '', tail] = ip.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  // An embedded IPv4 tail (::1.2.3.4) is two hextets; only its position matters here.
  const words = (parts: string[]): number => parts.reduce((n, p) => n + (p.includes('.') ? 2 : 1), 0)
  const missing = tail === undefined ? 0 : 8 - words(left) - words(right)
  const all = [...left, ...Array.from({ length: missing }, () => '0'), ...right]
  return all.map(h => (h.includes('.') ? h : parseInt(h, 16).toString(16)))
}
