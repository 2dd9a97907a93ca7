/** resolveConfig: defaults, undefined handling, and TypeErrors that name the option. */
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../protocol/src/index.js'
import { DEFAULT_TRACKER_CONFIG, createTracker, resolveConfig } from '../../tracker/src/index.js'
import type { TrackerInit } from '../../tracker/src/index.js'

describe('resolveConfig', () => {
  it('applies the documented defaults', () => {
    expect(resolveConfig()).toEqual({
      port: 8000,
      host: '127.0.0.1',
      edgeToken: undefined,
      edges: new Map(),
      allowSharedEdgeToken: false,
      edgeChallenge: false,
      edgeChallengeTimeoutMs: 5000,
      maxConcurrentEdgeChallenges: 16,
      maxEdgesPerId: 1,
      announceIntervalS: 120,
      edgeHeartbeatMs: 10_000,
      minAnnounceIntervalS: 30,
      maxOffersPerAnnounce: 10,
      pingIntervalMs: 30_000,
      maxPeersPerSwarm: 20_000,
      maxSwarmsPerSocket: 100,
      maxConnectionsPerIp: 1000,
      messagesPerSecond: 20,
      messageBurst: 60,
      messagesPerSecondPerIp: 100,
      messageBurstPerIp: 300,
      maxPeerIdsPerIpPerSwarm: 32,
      maxBufferedBytes: 1024 * 1024,
      maxBufferedBytesTotal: 64 * 1024 * 1024,
      trustProxy: false,
      regions: expect.any(Object),
      geoip: expect.objectContaining({ country: undefined, asn: undefined }),
      redisUrl: undefined,
      clusterTtlMs: 30_000,
      statsBytesPerSecond: 25_000_000,
      statsBytesPerSecondPerIp: 250_000_000,
      maxStatsResources: 1000,
      dashboardToken: undefined,
      shutdownGraceMs: 5000,
      logger: silentLogger,
      now: expect.any(Function)
    })
    expect(resolveConfig({})).toEqual(DEFAULT_TRACKER_CONFIG)
  })

  it('keeps a default when an option is explicitly undefined', () => {
    expect(resolveConfig({ port: undefined, host: undefined, announceIntervalS: 30 })).toMatchObject({
      port: 8000,
      host: '127.0.0.1',
      announceIntervalS: 30
    })
  })

  const bad: Array<[keyof TrackerInit, unknown]> = [
    ['port', -1],
    ['port', 70_000],
    ['port', 1.5],
    ['host', ''],
    ['edgeToken', ''],
    ['dashboardToken', ''],
    ['statsBytesPerSecond', 0],
    ['statsBytesPerSecondPerIp', 1.5],
    ['maxStatsResources', -1],
    ['announceIntervalS', 0],
    ['edgeHeartbeatMs', Number.NaN],
    ['maxOffersPerAnnounce', -3],
    ['pingIntervalMs', '1000'],
    ['maxPeersPerSwarm', 0],
    ['maxConnectionsPerIp', 2.5],
    ['messagesPerSecond', -1],
    ['messagesPerSecondPerIp', 0],
    ['messageBurstPerIp', 1.5],
    ['maxPeerIdsPerIpPerSwarm', '32'],
    ['maxBufferedBytes', 0],
    ['maxBufferedBytesTotal', Number.NaN],
    ['maxBufferedBytesTotal', 1024],
    ['trustProxy', 'yes'],
    ['redisUrl', 'http://localhost:6379'],
    ['redisUrl', 'redis://127.0.0.1:7000,http://127.0.0.1:7001'],
    ['redisUrl', 'redis://127.0.0.1:7000,'],
    ['regions', { cidrs: { eu: ['10.0.0.0/33'] } }],
    ['regions', { cidrs: { eu: ['not-an-ip/8'] } }],
    ['regions', { neighbours: { eu: 'us' } }],
    ['regions', { countries: { eu: ['DE'] } }],
    ['regions', { cidr: { eu: ['10.0.0.0/8'] } }],
    ['geoip', Buffer.from('not a database')],
    ['geoip', 'GeoLite2-Country.mmdb'],
    ['geoipAsn', Buffer.alloc(64)],
    ['logger', { info() {} }],
    ['edgeChallenge', 'on'],
    ['maxEdgesPerId', 0],
    ['maxConcurrentEdgeChallenges', 0],
    ['edgeChallengeTimeoutMs', -1],
    ['allowSharedEdgeToken', true]
  ]
  it.each(bad)('throws a TypeError naming %s for %s', (option, value) => {
    const init = { [option]: value } as TrackerInit
    expect(() => resolveConfig(init)).toThrow(TypeError)
    expect(() => resolveConfig(init)).toThrow(`"${option}"`)
    expect(() => createTracker(init)).toThrow(TypeError)
  })
})

describe('resolveConfig: the edges file', () => {
  const SHA = 'ab'.repeat(32)
  const good = { id: 'eu1', urls: ['https://eu1.cdn.example'], secretSha256: SHA }

  it('keeps each edge by id with its exact origins, and turns the challenge on', () => {
    const config = resolveConfig({
      edges: [
        good,
        { id: 'local', urls: ['http://127.0.0.1:8081/', 'HTTPS://EU2.cdn.example:443'], secret: 'x'.repeat(16) }
      ]
    })
    expect([...config.edges.keys()]).toEqual(['eu1', 'local'])
    expect([...config.edges.get('local')!.urls]).toEqual(['http://127.0.0.1:8081', 'https://eu2.cdn.example'])
    expect(config.edges.get('eu1')!.secretHash.toString('hex')).toBe(SHA)
    expect(config.edgeChallenge).toBe(true)
    expect(resolveConfig({ edges: [good], edgeChallenge: false }).edgeChallenge).toBe(false)
  })

  const badEdges: Array<[string, unknown, RegExp]> = [
    ['not an array', { eu1: good }, /"edges": expected an array/],
    ['empty', [], /"edges": expected at least one edge/],
    ['a bad id', [{ ...good, id: 'eu 1' }], /"edges\[0\]\.id"/],
    ['a duplicate id', [good, { ...good, urls: ['https://other.example'] }], /"edges\[1\]\.id": "eu1" is listed twice/],
    [
      'a URL with a path',
      [{ ...good, urls: ['https://eu1.cdn.example/cdn'] }],
      /"edges\[0\]\.urls\[0\]": expected an http\(s\) origin/
    ],
    ['a URL with a query', [{ ...good, urls: ['https://eu1.cdn.example?x'] }], /"edges\[0\]\.urls\[0\]"/],
    ['a non-http URL', [{ ...good, urls: ['ftp://eu1.cdn.example'] }], /"edges\[0\]\.urls\[0\]"/],
    ['credentials in a URL', [{ ...good, urls: ['https://u:p@eu1.cdn.example'] }], /"edges\[0\]\.urls\[0\]"/],
    ['no URL', [{ ...good, urls: [] }], /"edges\[0\]\.urls": expected an array of 1 to 16/],
    [
      'one URL for two ids',
      [good, { ...good, id: 'eu2' }],
      /"edges\[1\]\.urls\[0\]": https:\/\/eu1\.cdn\.example is already listed for edge "eu1"/
    ],
    ['no secret', [{ id: 'eu1', urls: good.urls }], /exactly one of "secretSha256" and "secret"/],
    ['both secrets', [{ ...good, secret: 'x'.repeat(16) }], /exactly one of/],
    ['a short hash', [{ ...good, secretSha256: 'abc' }], /"edges\[0\]\.secretSha256": expected 64 hex digits/],
    [
      'a short secret',
      [{ id: 'eu1', urls: good.urls, secret: 'short' }],
      /"edges\[0\]\.secret": expected a string of at least 16/
    ],
    ['a typo in a field', [{ ...good, url: 'https://eu1.cdn.example' }], /unknown field "url"/]
  ]
  it.each(badEdges)('throws a TypeError naming the entry for %s', (_, edges, message) => {
    expect(() => resolveConfig({ edges } as TrackerInit)).toThrow(TypeError)
    expect(() => resolveConfig({ edges } as TrackerInit)).toThrow(message)
  })

  it('refuses the shared token next to the file unless both are kept on purpose', () => {
    expect(() => resolveConfig({ edges: [good], edgeToken: 'left-over' })).toThrow(
      /"edgeToken": with "edges" the shared token is refused/
    )
    expect(resolveConfig({ edges: [good], edgeToken: 'kept', allowSharedEdgeToken: true }).allowSharedEdgeToken).toBe(
      true
    )
  })
})
