/**
 * The Redis clients of cluster mode: one Redis, or a Redis Cluster when `--redis` names
 * several seed nodes or the one it names has `cluster_enabled:1`. Commands go through
 * auto-pipelining, so the commands of one event-loop turn share a round trip (on a Redis
 * Cluster, one per shard).
 */
import { Cluster, Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import type { Logger } from '../../protocol/src/index.js'

export type RedisClient = Redis | Cluster

export interface RedisClients {
  cmd: RedisClient
  sub: RedisClient
  /** A Redis Cluster: signals go over sharded pub/sub (SPUBLISH / SSUBSCRIBE). */
  sharded: boolean
}

/** `redis://a:6379,redis://b:6379` or one url; each must be redis:// or rediss://. */
export function parseRedisUrls(text: string): URL[] {
  return text.split(',').map(part => {
    const url = new URL(part.trim())
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new TypeError(`not a redis url: ${url.protocol}`)
    if (url.hostname === '') throw new TypeError('redis url without a host')
    return url
  })
}

function nodeOptions(url: URL): RedisOptions {
  return {
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    tls: url.protocol === 'rediss:' ? {} : undefined,
    lazyConnect: true,
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true
  }
}

function seed(url: URL): { host: string; port: number } {
  return { host: url.hostname, port: url.port === '' ? 6379 : Number(url.port) }
}

export async function connectRedis(text: string, log: Logger): Promise<RedisClients> {
  const urls = parseRedisUrls(text)
  // ioredis reconnects by itself; without a listener an outage would crash the process.
  const watch = <T extends RedisClient>(client: T): T => {
    client.on('error', (err: Error) => log.warn('redis-error', { error: err.message }))
    return client
  }
  const first = urls[0]!
  let sharded = urls.length > 1
  if (!sharded) {
    const probe = watch(new Redis({ ...nodeOptions(first), ...seed(first), enableAutoPipelining: false }))
    await probe.connect()
    const info = await probe.info('cluster')
    sharded = /^cluster_enabled:1/m.test(info)
    if (!sharded) {
      const sub = watch(new Redis({ ...nodeOptions(first), ...seed(first), enableAutoPipelining: false }))
      const cmd = watch(new Redis({ ...nodeOptions(first), ...seed(first) }))
      await Promise.all([sub.connect(), cmd.connect()])
      await probe.quit()
      return { cmd, sub, sharded: false }
    }
    await probe.quit()
  }
  const redisOptions = { ...nodeOptions(first), enableAutoPipelining: undefined, lazyConnect: undefined }
  const nodes = urls.map(seed)
  // No auto-pipelining here: ioredis 6 refuses an auto-pipeline whose scripts' keys span
  // slots ("All keys in the pipeline should belong to the same slots allocation group").
  const cmd = watch(new Cluster(nodes, { redisOptions, lazyConnect: true }))
  const sub = watch(new Cluster(nodes, { redisOptions, lazyConnect: true, shardedSubscribers: true }))
  await Promise.all([cmd.connect(), sub.connect()])
  return { cmd, sub, sharded: true }
}
