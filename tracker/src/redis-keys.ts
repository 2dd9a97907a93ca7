/**
 * Redis key names and Lua scripts of cluster mode. Every key of one swarm carries the
 * swarm in a hash tag (`{<ih>}`), so on a Redis Cluster a swarm lives on one shard and
 * each script touches one slot. Ids are hex, so any byte is safe in a key.
 *
 * - `p2pcdn:nodes` sorted set of process ids, score = heartbeat expiry (ms). A process is
 *   live while its score is in the future; its members everywhere count only while it is.
 * - `p2pcdn:sw:{<ih>}:r:<region>` set of `<node>|<peer>`: the swarm's peers of that region
 * - `p2pcdn:sw:{<ih>}:asn:<asn>:r:<region>` the same for the peers whose network (GeoIP
 *   ASN) is known, by network (digits first, so no region name can collide)
 * - `p2pcdn:sw:{<ih>}:o` hash peer -> node: who holds that peer id (answers are routed by
 *   it, and a peer id is bound to one live process)
 * - `p2pcdn:sw:{<ih>}:n` hash of each process's own counts in the swarm: `<node>|s`
 *   seeders, `<node>|l` leechers, `<node>|r|<region>` peers of a region; written absolute
 *   (not incremented), so a lost write heals with the next one
 * - `p2pcdn:{edges}:list` set of edge urls, `p2pcdn:{edges}:e:<url>` one edge as JSON
 * - `p2pcdn:{fleet}:nodes` sorted set of process ids, score = expiry; `p2pcdn:{fleet}:f:<node>`
 *   that process's fleet statistics as JSON (PX = TTL): one slot, so one MGET reads them all
 * - channel `p2pcdn:relay:{<node>}` (sharded pub/sub on a Redis Cluster): signals for
 *   that process's sockets, one `<info_hash><peer_id><json text>` a line (the ids as the
 *   20-character strings they are; the text never holds a raw newline)
 */

const PREFIX = 'p2pcdn:'
export const NODES_KEY = `${PREFIX}nodes`
export const EDGES_KEY = `${PREFIX}{edges}:list`

export const FLEET_NODES_KEY = `${PREFIX}{fleet}:nodes`

export function fleetKey(node: string): string {
  return `${PREFIX}{fleet}:f:${node}`
}

export function edgeKey(url: string): string {
  return `${PREFIX}{edges}:e:${url}`
}

export function regionKey(ih: string, region: string): string {
  return `${PREFIX}sw:{${ih}}:r:${region}`
}

export function asnKey(ih: string, asn: number, region: string): string {
  return `${PREFIX}sw:{${ih}}:asn:${asn}:r:${region}`
}

export function ownersKey(ih: string): string {
  return `${PREFIX}sw:{${ih}}:o`
}

export function countsKey(ih: string): string {
  return `${PREFIX}sw:{${ih}}:n`
}

export function relayChannel(node: string): string {
  return `${PREFIX}relay:{${node}}`
}

/**
 * Join: bind the peer id to this node unless another node holds it, then add the member
 * to its sets and write this node's counts. Returns '' on success, else the holder (the
 * caller decides whether that holder is alive, and may retry with it as `takeFrom`).
 * KEYS: owners, counts, sets... ARGV: node, peer, takeFrom, key TTL (ms), field, value...
 */
export const JOIN_SCRIPT = `local owner = redis.call('HGET', KEYS[1], ARGV[2])
if owner and owner ~= ARGV[1] and owner ~= ARGV[3] then return owner end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
local member = ARGV[1] .. '|' .. ARGV[2]
for i = 3, #KEYS do redis.call('SADD', KEYS[i], member) end
if #ARGV > 4 then redis.call('HSET', KEYS[2], unpack(ARGV, 5)) end
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
return ''`

/**
 * Move or leave: take the member out of the first `nrem` sets, into the rest, release the
 * peer id if (still) this node's, and write this node's counts.
 * KEYS: owners, counts, sets... ARGV: node, peer, nrem, release ('1'/'0'), field, value...
 */
export const MOVE_SCRIPT = `local member = ARGV[1] .. '|' .. ARGV[2]
local nrem = tonumber(ARGV[3])
for i = 3, 2 + nrem do redis.call('SREM', KEYS[i], member) end
for i = 3 + nrem, #KEYS do redis.call('SADD', KEYS[i], member) end
if ARGV[4] == '1' and redis.call('HGET', KEYS[1], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[2]) end
if #ARGV > 4 then redis.call('HSET', KEYS[2], unpack(ARGV, 5)) end
return 1`

/**
 * Purge members of dead processes from one set, and their peer ids when still theirs.
 * KEYS: owners, set. ARGV: members.
 */
export const PURGE_SCRIPT = `for i = 1, #ARGV do
  local m = ARGV[i]
  redis.call('SREM', KEYS[2], m)
  local bar = string.find(m, '|', 1, true)
  if bar then
    local peer = string.sub(m, bar + 1)
    if redis.call('HGET', KEYS[1], peer) == string.sub(m, 1, bar - 1) then redis.call('HDEL', KEYS[1], peer) end
  end
end
return #ARGV`

/** A member `<node>|<peer>` as read back from Redis; undefined unless both parts are well-formed hex. */
export function parseMember(member: string): { node: string; peer: string } | undefined {
  const bar = member.indexOf('|')
  if (bar === -1) return undefined
  const node = member.slice(0, bar)
  const peer = member.slice(bar + 1)
  return NODE_ID.test(node) && PEER_HEX.test(peer) ? { node, peer } : undefined
}

/** A process id: 12 hex digits (6 random bytes). */
export const NODE_ID = /^[0-9a-f]{12}$/
/** An info_hash or peer_id as hex: 20 bytes. */
export const PEER_HEX = /^[0-9a-f]{40}$/
