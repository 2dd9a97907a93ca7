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
      redisUrl: undefined,
      clusterTtlMs: 30_000,
      logger: silentLogger
    })
    expect(resolveConfig({})).toEqual(DEFAULT_TRACKER_CONFIG)
  })

  it('keeps a default when an option is explicitly undefined', () => {
    expect(resolveConfig({ port: undefined, host: undefined, announceIntervalS: 30 })).toMatchObject({
      port: 8000, host: '127.0.0.1', announceIntervalS: 30
    })
  })

  const bad: Array<[keyof TrackerInit, unknown]> = [
    ['port', -1],
    ['port', 70_000],
    ['port', 1.5],
    ['host', ''],
    ['edgeToken', ''],
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
    ['regions', { cidrs: { eu: ['10.0.0.0/33'] } }],
    ['regions', { cidrs: { eu: ['not-an-ip/8'] } }],
    ['regions', { neighbours: { eu: 'us' } }],
    ['logger', { info () {} }]
  ]
  it.each(bad)('throws a TypeError naming %s for %s', (option, value) => {
    const init = { [option]: value } as TrackerInit
    expect(() => resolveConfig(init)).toThrow(TypeError)
    expect(() => resolveConfig(init)).toThrow(`"${option}"`)
    expect(() => createTracker(init)).toThrow(TypeError)
  })
})
