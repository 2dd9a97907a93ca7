import { describe, expect, it } from 'vitest'
import { parseClientMessage } from '../../../protocol/src/parse.js'
import { emptyReasonBytes } from '../../../protocol/src/stats.js'
import {
  MAX_STATS_CONNECTIONS,
  MAX_STATS_FIGURE,
  MAX_STATS_MESSAGE_BYTES,
  MAX_STATS_RESOURCES,
  MAX_STATS_URL_CHARS
} from '../../../protocol/src/stats.js'
import { expectCode } from './helpers.js'

const bytes = { cache: 10, peer: 600, edge: 300, origin: 100 }
const report = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  action: 'p2pcdn:stats',
  v: 1,
  swarm: 'example.com',
  region: 'eu',
  bytes,
  http: { 'no-peer': 250, deadline: 50, 'no-manifest': 100 },
  connections: { attempted: 3, failed: 1 },
  resources: [{ url: 'https://example.com/a.mp4', bytes: { cache: 0, peer: 600, edge: 300, origin: 0 } }],
  ...extra
})
const parse = (msg: unknown): ReturnType<typeof parseClientMessage> => parseClientMessage(JSON.stringify(msg))
const bad = (msg: unknown, field: RegExp): void => {
  const err = expectCode(() => parse(msg), 'ERR_INVALID_MESSAGE')
  expect(err.message).toMatch(field)
}

describe('p2pcdn:stats', () => {
  it('parses a report: absent reasons are 0, unknown fields are dropped', () => {
    expect(parse({ ...report(), extra: 'x', http: { 'no-peer': 400, bogus: 5 } })).toEqual({
      action: 'p2pcdn:stats',
      v: 1,
      swarm: 'example.com',
      region: 'eu',
      bytes,
      http: { ...emptyReasonBytes(), 'no-peer': 400 },
      connections: { attempted: 3, failed: 1 },
      resources: [{ url: 'https://example.com/a.mp4', bytes: { cache: 0, peer: 600, edge: 300, origin: 0 } }]
    })
  })

  it('refuses figures that are not whole numbers in range', () => {
    for (const value of [-1, 1.5, '5', null, true, MAX_STATS_FIGURE + 1, 1e308]) {
      bad(report({ bytes: { ...bytes, peer: value } }), /invalid bytes\.peer/)
    }
    bad(report({ bytes: [1, 2, 3, 4] }), /invalid bytes: expected an object/)
    bad(report({ bytes: undefined }), /invalid bytes/)
    bad(report({ http: { deadline: -5 } }), /invalid http\.deadline/)
    bad(report({ connections: { attempted: MAX_STATS_CONNECTIONS + 1 } }), /connections\.attempted/)
    bad(report({ connections: 'many' }), /invalid connections/)
  })

  it('refuses figures that contradict each other', () => {
    // More HTTP bytes by reason than edge + origin bytes.
    bad(report({ http: { 'no-peer': 401 } }), /more bytes by reason/)
    bad(report({ connections: { attempted: 1, failed: 2 } }), /failed: more than attempted/)
    bad(
      report({ resources: [{ url: 'https://e/a', bytes: { ...bytes, peer: 601 } }] }),
      /more peer bytes than bytes\.peer/
    )
    const half = { cache: 0, peer: 300, edge: 0, origin: 0 }
    bad(
      report({
        resources: [
          { url: 'https://e/a', bytes: half },
          { url: 'https://e/b', bytes: { ...half, peer: 301 } }
        ]
      }),
      /more peer bytes/
    )
    bad(
      report({
        resources: [
          { url: 'https://e/a', bytes: half },
          { url: 'https://e/a', bytes: half }
        ]
      }),
      /listed twice/
    )
  })

  it('bounds resources, URLs, names and the whole message', () => {
    const zero = { cache: 0, peer: 0, edge: 0, origin: 0 }
    const many = Array.from({ length: MAX_STATS_RESOURCES + 1 }, (_, i) => ({ url: `https://e/${i}`, bytes: zero }))
    bad(report({ resources: many }), /at most 20/)
    expect(parse(report({ resources: many.slice(0, MAX_STATS_RESOURCES) }))).toMatchObject({ action: 'p2pcdn:stats' })
    bad(report({ resources: [{ url: 'x'.repeat(MAX_STATS_URL_CHARS + 1), bytes: zero }] }), /resources\[0\]\.url/)
    bad(report({ resources: [{ url: '', bytes: zero }] }), /resources\[0\]\.url/)
    bad(report({ resources: [{ url: 5, bytes: zero }] }), /resources\[0\]\.url/)
    bad(report({ resources: [null] }), /resources\[0\]: expected an object/)
    bad(report({ resources: {} }), /invalid resources/)
    bad(report({ swarm: 's'.repeat(65) }), /invalid swarm/)
    bad(report({ region: '' }), /invalid region/)
    // Padding within the tracker's 64 KiB frame but over the report's own bound.
    const padded = JSON.stringify({ ...report(), pad: ' '.repeat(MAX_STATS_MESSAGE_BYTES) })
    const err = expectCode(() => parseClientMessage(padded), 'ERR_INVALID_MESSAGE')
    expect(err.message).toMatch(/stats report longer than 16384/)
  })
})
