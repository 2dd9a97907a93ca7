import { describe, expect, it } from 'vitest'
import { DEFAULT_CLIENT_CONFIG, resolveConfig } from '../../../client/src/config.js'

describe('resolveConfig', () => {
  it('fills every default, swarm falls back without location', () => {
    const c = resolveConfig()
    expect(c).toMatchObject({ ...DEFAULT_CLIENT_CONFIG, tracker: undefined, region: undefined, swarm: 'default' })
    expect(c.cacheBytes).toBe(256 * 1024 * 1024)
    expect(c.maxPeers).toBe(8)
    expect(c.consent).toBe('granted')
  })

  it('undefined values do not wipe defaults; edges lose trailing slashes', () => {
    const c = resolveConfig({ maxPeers: undefined, edges: ['https://e.example/'], uploadBytesPerSecond: 1000 })
    expect(c.maxPeers).toBe(8)
    expect(c.edges).toEqual(['https://e.example'])
    expect(c.uploadBytesPerSecond).toBe(1000)
  })

  it.each([
    [{ tracker: 'http://t.example' }, 'tracker'],
    [{ edges: ['ftp://e'] }, 'edges'],
    [{ maxPeers: -1 }, 'maxPeers'],
    [{ cacheBytes: 1.5 }, 'cacheBytes'],
    [{ peerConcurrency: 0 }, 'peerConcurrency'],
    [{ httpConcurrency: 0 }, 'httpConcurrency'],
    [{ consent: 'maybe' as 'granted' }, 'consent'],
    [{ upload: 'yes' as unknown as boolean }, 'upload']
  ])('rejects %j with a TypeError naming %s', (init, name) => {
    expect(() => resolveConfig(init)).toThrow(TypeError)
    expect(() => resolveConfig(init)).toThrow(name)
  })
})
