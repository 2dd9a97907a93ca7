import { describe, expect, it } from 'vitest'
import { StatsReporter, reportedUrl } from '../../../client/src/stats-reporter.js'
import { MAX_STATS_RESOURCES, MAX_STATS_URL_CHARS, parseClientMessage } from '../../../protocol/src/index.js'

describe('StatsReporter', () => {
  it('reports bytes by source, HTTP bytes by reason and connection attempts, then starts over', () => {
    const r = new StatsReporter()
    r.count('https://s/a.mp4', 'peer', 700, undefined)
    r.count('https://s/a.mp4', 'edge', 200, 'peer-slow')
    r.count('https://s/b.js', 'origin', 50, 'no-manifest')
    r.count('https://s/b.js', 'cache', 10, undefined)
    r.connection(true)
    r.connection(false)
    const report = r.take('site', 'eu')!
    expect(report).toEqual({
      action: 'p2pcdn:stats',
      v: 1,
      swarm: 'site',
      region: 'eu',
      bytes: { cache: 10, peer: 700, edge: 200, origin: 50 },
      http: {
        'no-peer': 0,
        deadline: 0,
        'peer-slow': 200,
        'peer-error': 0,
        'peer-integrity': 0,
        'p2p-off': 0,
        'no-manifest': 50
      },
      connections: { attempted: 2, failed: 1 },
      resources: [
        { url: 'https://s/a.mp4', bytes: { cache: 0, peer: 700, edge: 200, origin: 0 } },
        { url: 'https://s/b.js', bytes: { cache: 10, peer: 0, edge: 0, origin: 50 } }
      ]
    })
    // What the tracker's parser accepts as it is.
    expect(parseClientMessage(JSON.stringify(report))).toEqual(report)
    expect(r.take('site', 'eu')).toBeUndefined()
  })

  it('lists the biggest resources only, strips query and fragment, and stays within the parser bounds', () => {
    const r = new StatsReporter()
    r.count(`https://s/${'x'.repeat(1000)}`, 'peer', 5000, undefined)
    for (let i = 0; i < 1000; i++) r.count(`https://s/${i}.ts?token=secret${i}#t=1`, 'edge', i + 1, 'no-peer')
    const report = r.take(undefined, undefined)!
    expect(report.resources).toHaveLength(MAX_STATS_RESOURCES)
    expect(report.resources[0]!.url.length).toBe(MAX_STATS_URL_CHARS)
    expect(report.resources.some(x => x.url.includes('token'))).toBe(false)
    // 256 URLs are counted apart (the first ones); every byte is in the totals.
    expect(report.bytes.edge).toBe((1000 * 1001) / 2)
    const raw = JSON.stringify(report)
    expect(parseClientMessage(raw)).toEqual(report)
    expect(raw.length).toBeLessThan(8 * 1024)
  })

  it('reportedUrl', () => {
    expect(reportedUrl('https://s/a?b#c')).toBe('https://s/a')
    expect(reportedUrl('https://s/a#c?d')).toBe('https://s/a')
  })
})
