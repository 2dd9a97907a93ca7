import { describe, expect, it } from 'vitest'
import { DEFAULT_CLIENT_CONFIG, edgeAllowed, resolveConfig } from '../../../client/src/config.js'

describe('resolveConfig', () => {
  it('fills every default, swarm falls back without location', () => {
    const c = resolveConfig()
    expect(c).toMatchObject({ ...DEFAULT_CLIENT_CONFIG, tracker: undefined, region: undefined, swarm: 'default' })
    expect(c.cacheBytes).toBe(256 * 1024 * 1024)
    expect(c.maxPeers).toBe(8)
    expect(c.consent).toBe('granted')
    expect(c.statsIntervalMs).toBe(30_000)
    expect(resolveConfig({ statsIntervalMs: 0 }).statsIntervalMs).toBe(0)
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
    [{ upload: 'yes' as unknown as boolean }, 'upload'],
    // The tracker refuses a socket's reports closer than a second apart; NaN from data-stats="soon".
    [{ statsIntervalMs: 4999 }, 'statsIntervalMs'],
    [{ statsIntervalMs: Number.NaN }, 'statsIntervalMs']
  ])('rejects %j with a TypeError naming %s', (init, name) => {
    expect(() => resolveConfig(init)).toThrow(TypeError)
    expect(() => resolveConfig(init)).toThrow(name)
  })
})

describe('trust options', () => {
  const KEY = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo'

  it('manifestKey takes one key or several; a bad one throws naming the option', () => {
    expect(resolveConfig({ manifestKey: KEY }).manifestKey).toEqual([KEY])
    expect(resolveConfig({ manifestKey: [KEY, KEY] }).manifestKey).toEqual([KEY, KEY])
    expect(resolveConfig().manifestKey).toEqual([])
    for (const bad of ['', KEY.slice(1), `${KEY}=`, 42, [KEY, 'nope']]) {
      expect(() => resolveConfig({ manifestKey: bad as string })).toThrow(/manifestKey/)
    }
  })

  it("edgeOrigins defaults to any with a key, else to the configured edges' origins", () => {
    expect(resolveConfig({ manifestKey: KEY }).edgeOrigins).toEqual(['*'])
    expect(resolveConfig({ edges: ['https://eu1.cdn.example/', 'https://eu1.cdn.example:8443'] }).edgeOrigins).toEqual([
      'https://eu1.cdn.example',
      'https://eu1.cdn.example:8443'
    ])
    expect(resolveConfig().edgeOrigins).toEqual([])
  })

  it('edgeOrigins entries are normalised origins, wildcard subdomains or *; others throw', () => {
    expect(
      resolveConfig({
        edgeOrigins: ['HTTPS://EU1.cdn.example:443/', 'https://*.cdn.example', 'http://*.x.example:8080', '*']
      }).edgeOrigins
    ).toEqual(['https://eu1.cdn.example', 'https://*.cdn.example', 'http://*.x.example:8080', '*'])
    for (const bad of [
      'eu1.cdn.example',
      'https://eu1.cdn.example/path',
      'ws://t.example',
      'https://a.*.example',
      ''
    ]) {
      expect(() => resolveConfig({ edgeOrigins: [bad] })).toThrow(/edgeOrigins/)
    }
    expect(() => resolveConfig({ edgeOrigins: 'https://a.example' as unknown as string[] })).toThrow(/edgeOrigins/)
  })

  it('edgeAllowed matches exact origins, subdomains of a wildcard (same scheme and port), or anything with *', () => {
    const origins = resolveConfig({
      edgeOrigins: ['https://eu1.cdn.example', 'https://*.edge.example', 'http://*.lan.example:8081']
    }).edgeOrigins
    expect(edgeAllowed(origins, 'https://eu1.cdn.example')).toBe(true)
    expect(edgeAllowed(origins, 'https://eu1.cdn.example:443')).toBe(true)
    expect(edgeAllowed(origins, 'https://us1.edge.example')).toBe(true)
    expect(edgeAllowed(origins, 'https://a.b.edge.example')).toBe(true)
    expect(edgeAllowed(origins, 'http://a.lan.example:8081')).toBe(true)
    for (const no of [
      'http://eu1.cdn.example',
      'https://eu1.cdn.example:8443',
      'https://edge.example',
      'https://evil-edge.example',
      'https://edge.example.evil.example',
      'http://us1.edge.example',
      'http://a.lan.example',
      'not a url'
    ]) {
      expect(edgeAllowed(origins, no), no).toBe(false)
    }
    expect(edgeAllowed(['*'], 'http://anything.example:1')).toBe(true)
    expect(edgeAllowed([], 'https://eu1.cdn.example')).toBe(false)
  })

  it('peerConnectMs defaults to 1500 and must be a non-negative integer', () => {
    expect(resolveConfig().peerConnectMs).toBe(1500)
    expect(() => resolveConfig({ peerConnectMs: -1 })).toThrow(/peerConnectMs/)
  })
})
