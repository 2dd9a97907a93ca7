import { describe, expect, it } from 'vitest'
import { isBinaryId, parseClientMessage, parseTrackerMessage } from '../../../protocol/src/parse.js'
import { MAX_MESSAGE_BYTES } from '../../../protocol/src/constants.js'
import { toBinaryString } from '../../../protocol/src/encoding.js'
import { expectCode } from './helpers.js'

/** A 20-char binary string, one char per byte, covering 0x00 and 0xff. */
function binId(seed: number): string {
  const bytes = new Uint8Array(20)
  for (let i = 0; i < 20; i++) bytes[i] = (seed * 31 + i * 97) & 0xff
  bytes[0] = 0x00
  bytes[19] = 0xff
  return toBinaryString(bytes)
}

const INFO_HASH = binId(1)
const PEER_ID = binId(2)
const OTHER_PEER = binId(3)
const OFFER_ID = binId(4)
const SDP = 'v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n'

const client = (msg: unknown): ReturnType<typeof parseClientMessage> => parseClientMessage(JSON.stringify(msg))
const tracker = (msg: unknown): ReturnType<typeof parseTrackerMessage> => parseTrackerMessage(JSON.stringify(msg))
const badClient = (msg: unknown): void => {
  expectCode(() => client(msg), 'ERR_INVALID_MESSAGE')
}
const badClientRaw = (raw: string): void => {
  expectCode(() => parseClientMessage(raw), 'ERR_INVALID_MESSAGE')
}
const badTracker = (msg: unknown): void => {
  expectCode(() => tracker(msg), 'ERR_INVALID_MESSAGE')
}
const badTrackerRaw = (raw: string): void => {
  expectCode(() => parseTrackerMessage(raw), 'ERR_INVALID_MESSAGE')
}

/** What bittorrent-tracker's websocket client sends on start: Object.assign({}, opts, {action, info_hash, peer_id}). */
function webtorrentAnnounce(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    numwant: 5,
    uploaded: 0,
    downloaded: 0,
    left: null, // JSON.stringify(Infinity)
    event: 'started',
    action: 'announce',
    info_hash: INFO_HASH,
    peer_id: PEER_ID,
    offers: [
      { offer: { type: 'offer', sdp: SDP }, offer_id: OFFER_ID },
      { offer: { type: 'offer', sdp: SDP + 'a=x\r\n' }, offer_id: binId(5) }
    ],
    ...extra
  }
}

describe('isBinaryId', () => {
  it('accepts 20 chars in 0..255 and rejects anything else', () => {
    expect(isBinaryId(INFO_HASH)).toBe(true)
    expect(isBinaryId('\u0000'.repeat(20))).toBe(true)
    expect(isBinaryId('\u00ff'.repeat(20))).toBe(true)
    expect(isBinaryId('a'.repeat(19))).toBe(false)
    expect(isBinaryId('a'.repeat(21))).toBe(false)
    expect(isBinaryId('a'.repeat(19) + '\u0100')).toBe(false)
    expect(isBinaryId(1.2345678901234567e19)).toBe(false)
    expect(isBinaryId(null)).toBe(false)
  })
})

describe('parseClientMessage: valid', () => {
  it('parses a WebTorrent announce as bittorrent-tracker sends it', () => {
    const raw = webtorrentAnnounce()
    const m = client(raw)
    expect(m).toEqual({
      action: 'announce',
      info_hash: INFO_HASH,
      peer_id: PEER_ID,
      event: 'started',
      numwant: 5,
      uploaded: 0,
      downloaded: 0,
      offers: [
        { offer: { type: 'offer', sdp: SDP }, offer_id: OFFER_ID },
        { offer: { type: 'offer', sdp: SDP + 'a=x\r\n' }, offer_id: binId(5) }
      ]
    })
    // left: null (Infinity) is treated as absent, not as a key with undefined
    expect(Object.keys(m)).not.toContain('left')
  })

  it('keeps binary ids byte-for-byte, including chars 0 and 255', () => {
    const m = client(webtorrentAnnounce()) as { info_hash: string; peer_id: string }
    expect(m.info_hash).toBe(INFO_HASH)
    expect(m.info_hash.charCodeAt(0)).toBe(0)
    expect(m.info_hash.charCodeAt(19)).toBe(255)
    expect(m.peer_id).toBe(PEER_ID)
  })

  it('reads counters given as numbers, numeric strings or null', () => {
    const m = client(
      webtorrentAnnounce({ numwant: '7', uploaded: '1024', downloaded: 2048, left: '0', event: 'completed' })
    )
    expect(m).toMatchObject({ numwant: 7, uploaded: 1024, downloaded: 2048, left: 0, event: 'completed' })
    const n = client(webtorrentAnnounce({ left: 12345 })) as { left?: number }
    expect(n.left).toBe(12345)
    const o = client(webtorrentAnnounce({ uploaded: null, downloaded: null, numwant: null })) as unknown as Record<
      string,
      unknown
    >
    expect(o.uploaded).toBeUndefined()
    expect('downloaded' in o).toBe(false)
    expect('numwant' in o).toBe(false)
  })

  it('accepts every announce event and a missing event (periodic update)', () => {
    for (const event of ['started', 'stopped', 'completed', 'update']) {
      expect(client(webtorrentAnnounce({ event }))).toMatchObject({ event })
    }
    const m = client({ action: 'announce', info_hash: INFO_HASH, peer_id: PEER_ID }) as unknown as Record<
      string,
      unknown
    >
    expect(m).toEqual({ action: 'announce', info_hash: INFO_HASH, peer_id: PEER_ID })
    expect(client(webtorrentAnnounce({ event: '' }))).not.toHaveProperty('event')
  })

  it('accepts a stopped announce without offers, and an empty offers array', () => {
    const stop = webtorrentAnnounce({ event: 'stopped' })
    delete stop.offers
    expect(client(stop)).not.toHaveProperty('offers')
    expect(client(webtorrentAnnounce({ offers: [] }))).toMatchObject({ offers: [] })
  })

  it('accepts an offer without type and fills it in', () => {
    const m = client(webtorrentAnnounce({ offers: [{ offer: { sdp: SDP }, offer_id: OFFER_ID }] }))
    expect(m).toMatchObject({ offers: [{ offer: { type: 'offer', sdp: SDP }, offer_id: OFFER_ID }] })
  })

  it('accepts 50 offers and an SDP of 16 KiB', () => {
    const offers = Array.from({ length: 50 }, (_, i) => ({ offer: { type: 'offer', sdp: SDP }, offer_id: binId(i) }))
    const m = client(webtorrentAnnounce({ offers })) as { offers: unknown[] }
    expect(m.offers).toHaveLength(50)
    const big = 's'.repeat(16 * 1024)
    const n = client(webtorrentAnnounce({ offers: [{ offer: { type: 'offer', sdp: big }, offer_id: OFFER_ID }] }))
    expect(n).toMatchObject({ offers: [{ offer: { type: 'offer', sdp: big } }] })
  })

  it('keeps the p2pcdn region on announce', () => {
    expect(client(webtorrentAnnounce({ region: 'eu-west' }))).toMatchObject({ region: 'eu-west' })
    expect(client(webtorrentAnnounce({ region: null }))).not.toHaveProperty('region')
  })

  it('parses an answer announce', () => {
    const raw = {
      action: 'announce',
      info_hash: INFO_HASH,
      peer_id: PEER_ID,
      to_peer_id: OTHER_PEER,
      answer: { type: 'answer', sdp: SDP },
      offer_id: OFFER_ID,
      trackerid: 'abc'
    }
    expect(client(raw)).toEqual({
      action: 'announce',
      info_hash: INFO_HASH,
      peer_id: PEER_ID,
      to_peer_id: OTHER_PEER,
      offer_id: OFFER_ID,
      answer: { type: 'answer', sdp: SDP }
    })
  })

  it('parses a scrape with one hash (string), several hashes, or none', () => {
    expect(client({ action: 'scrape', info_hash: INFO_HASH })).toEqual({ action: 'scrape', info_hash: [INFO_HASH] })
    expect(client({ action: 'scrape', info_hash: [INFO_HASH, binId(9), binId(10)] })).toEqual({
      action: 'scrape',
      info_hash: [INFO_HASH, binId(9), binId(10)]
    })
    expect(client({ action: 'scrape' })).toEqual({ action: 'scrape', info_hash: [] })
  })

  it('parses p2pcdn:edge-register and strips trailing slashes from the url', () => {
    const m = client({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: 'secret',
      url: 'https://eu1.cdn.example/',
      region: 'eu',
      capacity: 125_000_000
    })
    expect(m).toEqual({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: 'secret',
      url: 'https://eu1.cdn.example',
      region: 'eu',
      capacity: 125_000_000
    })
    const n = client({ action: 'p2pcdn:edge-register', token: 't', url: 'http://127.0.0.1:8080', region: 'local' })
    expect(n).toEqual({
      action: 'p2pcdn:edge-register',
      v: 1,
      token: 't',
      url: 'http://127.0.0.1:8080',
      region: 'local',
      capacity: 0
    })
  })

  it('parses the id of p2pcdn:edge-register and refuses a bad one', () => {
    expect(
      client({
        action: 'p2pcdn:edge-register',
        v: 1,
        id: 'eu1.cdn_2-a',
        token: 's',
        url: 'https://eu1.cdn.example',
        region: 'eu'
      })
    ).toEqual({
      action: 'p2pcdn:edge-register',
      v: 1,
      id: 'eu1.cdn_2-a',
      token: 's',
      url: 'https://eu1.cdn.example',
      region: 'eu',
      capacity: 0
    })
    expect(
      client({ action: 'p2pcdn:edge-register', v: 1, id: null, token: 's', url: 'https://e.example', region: 'eu' })
    ).not.toHaveProperty('id')
    for (const id of ['', 'has space', '-leading', 'x'.repeat(65), 7, ['a']]) {
      expect(() =>
        parseClientMessage(
          JSON.stringify({
            action: 'p2pcdn:edge-register',
            v: 1,
            id,
            token: 's',
            url: 'https://e.example',
            region: 'eu'
          })
        )
      ).toThrow(/invalid id/)
    }
  })

  it('parses p2pcdn:edge-load with hitRatio at the bounds', () => {
    expect(client({ action: 'p2pcdn:edge-load', v: 1, connections: 3, bytesPerSec: 1000, hitRatio: 0.75 })).toEqual({
      action: 'p2pcdn:edge-load',
      v: 1,
      connections: 3,
      bytesPerSec: 1000,
      hitRatio: 0.75
    })
    expect(client({ action: 'p2pcdn:edge-load', connections: 0, bytesPerSec: 0, hitRatio: 0 })).toMatchObject({
      hitRatio: 0
    })
    expect(client({ action: 'p2pcdn:edge-load', connections: 0, bytesPerSec: 0, hitRatio: 1 })).toMatchObject({
      hitRatio: 1
    })
  })

  it('parses p2pcdn:edges with and without region', () => {
    expect(client({ action: 'p2pcdn:edges', v: 1, region: 'us' })).toEqual({
      action: 'p2pcdn:edges',
      v: 1,
      region: 'us'
    })
    const m = client({ action: 'p2pcdn:edges' })
    expect(m).toEqual({ action: 'p2pcdn:edges', v: 1 })
    expect(Object.keys(m)).toEqual(['action', 'v'])
  })

  it('drops unknown extra fields', () => {
    const m = client(
      webtorrentAnnounce({
        trackerid: 'x',
        evil: { nested: true },
        compact: 1,
        offers: [{ offer: { type: 'offer', sdp: SDP, junk: 1 }, offer_id: OFFER_ID, extra: 2 }]
      })
    )
    expect(m).not.toHaveProperty('trackerid')
    expect(m).not.toHaveProperty('evil')
    expect(m).not.toHaveProperty('compact')
    expect((m as { offers: unknown[] }).offers[0]).toEqual({ offer: { type: 'offer', sdp: SDP }, offer_id: OFFER_ID })
    expect(client({ action: 'scrape', info_hash: INFO_HASH, extra: 1 })).toEqual({
      action: 'scrape',
      info_hash: [INFO_HASH]
    })
    expect(
      client({ action: 'p2pcdn:edge-register', token: 't', url: 'http://e', region: 'r', admin: true })
    ).not.toHaveProperty('admin')
    expect(
      client({ action: 'p2pcdn:edge-load', connections: 1, bytesPerSec: 1, hitRatio: 0.5, x: 1 })
    ).not.toHaveProperty('x')
    expect(client({ action: 'p2pcdn:edges', x: 1 })).not.toHaveProperty('x')
    expect(
      client({
        action: 'announce',
        info_hash: INFO_HASH,
        peer_id: PEER_ID,
        to_peer_id: OTHER_PEER,
        offer_id: OFFER_ID,
        answer: { type: 'answer', sdp: SDP, x: 1 },
        x: 1
      })
    ).toEqual({
      action: 'announce',
      info_hash: INFO_HASH,
      peer_id: PEER_ID,
      to_peer_id: OTHER_PEER,
      offer_id: OFFER_ID,
      answer: { type: 'answer', sdp: SDP }
    })
  })

  it('accepts a message of exactly MAX_MESSAGE_BYTES characters', () => {
    const base = JSON.stringify({ action: 'p2pcdn:edges', pad: '' })
    const raw = JSON.stringify({ action: 'p2pcdn:edges', pad: 'x'.repeat(MAX_MESSAGE_BYTES - base.length) })
    expect(raw.length).toBe(MAX_MESSAGE_BYTES)
    expect(parseClientMessage(raw)).toEqual({ action: 'p2pcdn:edges', v: 1 })
  })
})

describe('parseClientMessage: malformed', () => {
  it('rejects non-JSON, non-objects and arrays', () => {
    badClientRaw('')
    badClientRaw('{')
    badClientRaw('not json')
    badClientRaw('null')
    badClientRaw('42')
    badClientRaw('"announce"')
    badClientRaw('true')
    badClientRaw('[]')
    badClientRaw(JSON.stringify([{ action: 'announce', info_hash: INFO_HASH, peer_id: PEER_ID }]))
    expectCode(() => parseClientMessage(undefined as unknown as string), 'ERR_INVALID_MESSAGE')
    expectCode(() => parseClientMessage(Buffer.from('{}') as unknown as string), 'ERR_INVALID_MESSAGE')
  })

  it('rejects an oversize message', () => {
    const base = JSON.stringify({ action: 'p2pcdn:edges', pad: '' })
    badClientRaw(JSON.stringify({ action: 'p2pcdn:edges', pad: 'x'.repeat(MAX_MESSAGE_BYTES - base.length + 1) }))
    badClient(
      webtorrentAnnounce({
        offers: Array.from({ length: 10 }, (_, i) => ({
          offer: { type: 'offer', sdp: 's'.repeat(8000) },
          offer_id: binId(i)
        }))
      })
    )
  })

  it('rejects an unknown or missing action and names the value', () => {
    const err = expectCode(() => client({ action: 'frobnicate' }), 'ERR_INVALID_MESSAGE')
    expect(err.message).toContain('frobnicate')
    badClient({})
    badClient({ action: 42 })
    badClient({ action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 1000 }) // tracker-direction only
  })

  it('rejects bad info_hash / peer_id / offer_id', () => {
    badClient(webtorrentAnnounce({ info_hash: INFO_HASH.slice(0, 19) }))
    badClient(webtorrentAnnounce({ info_hash: INFO_HASH + 'x' }))
    badClient(webtorrentAnnounce({ info_hash: INFO_HASH.slice(0, 19) + '\u0100' }))
    badClient(webtorrentAnnounce({ info_hash: INFO_HASH.slice(0, 19) + '\u{1F600}'.slice(0, 1) }))
    badClient(webtorrentAnnounce({ info_hash: undefined }))
    badClient(webtorrentAnnounce({ info_hash: 12345 }))
    badClient(webtorrentAnnounce({ peer_id: PEER_ID.slice(1) }))
    badClient(webtorrentAnnounce({ peer_id: null }))
    badClient(webtorrentAnnounce({ offers: [{ offer: { type: 'offer', sdp: SDP }, offer_id: OFFER_ID.slice(1) }] }))
    badClient(webtorrentAnnounce({ offers: [{ offer: { type: 'offer', sdp: SDP } }] }))
  })

  it('rejects bad offers', () => {
    const offers = Array.from({ length: 51 }, (_, i) => ({ offer: { type: 'offer', sdp: 'x' }, offer_id: binId(i) }))
    badClient(webtorrentAnnounce({ offers }))
    badClient(
      webtorrentAnnounce({ offers: [{ offer: { type: 'offer', sdp: 's'.repeat(16 * 1024 + 1) }, offer_id: OFFER_ID }] })
    )
    badClient(webtorrentAnnounce({ offers: { 0: { offer: { type: 'offer', sdp: SDP }, offer_id: OFFER_ID } } }))
    badClient(webtorrentAnnounce({ offers: 'nope' }))
    badClient(webtorrentAnnounce({ offers: [null] }))
    badClient(webtorrentAnnounce({ offers: ['offer'] }))
    badClient(webtorrentAnnounce({ offers: [{ offer: { type: 'answer', sdp: SDP }, offer_id: OFFER_ID }] }))
    badClient(webtorrentAnnounce({ offers: [{ offer: { type: 'offer', sdp: 42 }, offer_id: OFFER_ID }] }))
    badClient(webtorrentAnnounce({ offers: [{ offer: SDP, offer_id: OFFER_ID }] }))
  })

  it('rejects negative or non-numeric counters', () => {
    badClient(webtorrentAnnounce({ numwant: -1 }))
    badClient(webtorrentAnnounce({ uploaded: -5 }))
    badClient(webtorrentAnnounce({ downloaded: '-1' }))
    badClient(webtorrentAnnounce({ left: -1 }))
    badClient(webtorrentAnnounce({ left: true }))
    badClient(webtorrentAnnounce({ numwant: {} }))
    badClient(webtorrentAnnounce({ uploaded: [1] }))
  })

  it('rejects bad events and regions', () => {
    badClient(webtorrentAnnounce({ event: 'exploded' }))
    badClient(webtorrentAnnounce({ event: 1 }))
    badClient(webtorrentAnnounce({ region: '' }))
    badClient(webtorrentAnnounce({ region: 42 }))
    badClient(webtorrentAnnounce({ region: ['eu'] }))
    badClient(webtorrentAnnounce({ region: 'r'.repeat(2049) }))
    badClient({ action: 'p2pcdn:edges', region: 7 })
    badClient({ action: 'p2pcdn:edges', region: '' })
  })

  it('rejects bad answer announces', () => {
    const answer = {
      action: 'announce',
      info_hash: INFO_HASH,
      peer_id: PEER_ID,
      to_peer_id: OTHER_PEER,
      offer_id: OFFER_ID,
      answer: { type: 'answer', sdp: SDP }
    }
    badClient({ ...answer, to_peer_id: undefined })
    badClient({ ...answer, to_peer_id: OTHER_PEER.slice(2) })
    badClient({ ...answer, offer_id: undefined })
    badClient({ ...answer, answer: { type: 'offer', sdp: SDP } })
    badClient({ ...answer, answer: { type: 'answer' } })
    badClient({ ...answer, answer: 'sdp' })
    badClient({ ...answer, answer: { type: 'answer', sdp: 's'.repeat(16 * 1024 + 1) } })
  })

  it('rejects bad scrapes', () => {
    badClient({ action: 'scrape', info_hash: INFO_HASH.slice(1) })
    badClient({ action: 'scrape', info_hash: [INFO_HASH, 'short'] })
    badClient({ action: 'scrape', info_hash: [INFO_HASH, 7] })
    badClient({ action: 'scrape', info_hash: 7 })
    badClient({ action: 'scrape', info_hash: Array.from({ length: 101 }, () => INFO_HASH) })
  })

  it('rejects bad p2pcdn:edge-register', () => {
    const ok = { action: 'p2pcdn:edge-register', v: 1, token: 't', url: 'https://e.example', region: 'eu', capacity: 1 }
    expect(client(ok)).toMatchObject({ url: 'https://e.example' })
    badClient({ ...ok, url: 'ftp://e.example' })
    badClient({ ...ok, url: 'ws://e.example' })
    badClient({ ...ok, url: 'javascript:alert(1)' })
    badClient({ ...ok, url: 'e.example' })
    badClient({ ...ok, url: 'http://' })
    badClient({ ...ok, url: '' })
    badClient({ ...ok, url: 42 })
    badClient({ ...ok, token: '' })
    badClient({ ...ok, token: undefined })
    badClient({ ...ok, region: undefined })
    badClient({ ...ok, region: 'r'.repeat(65) })
    badClient({ ...ok, capacity: -1 })
    badClient({ ...ok, capacity: {} })
    badClient({ ...ok, v: 0 })
    badClient({ ...ok, v: 1.5 })
    badClient({ ...ok, v: '1' })
  })

  it('rejects bad p2pcdn:edge-load', () => {
    const ok = { action: 'p2pcdn:edge-load', v: 1, connections: 1, bytesPerSec: 1, hitRatio: 0.5 }
    badClient({ ...ok, hitRatio: 1.01 })
    badClient({ ...ok, hitRatio: 2 })
    badClient({ ...ok, hitRatio: -0.1 })
    badClient({ ...ok, hitRatio: undefined })
    badClient({ ...ok, connections: -1 })
    badClient({ ...ok, connections: undefined })
    badClient({ ...ok, bytesPerSec: null })
    badClient({ ...ok, bytesPerSec: [] })
  })
})

describe('parseTrackerMessage: valid', () => {
  it('parses an announce response as bittorrent-tracker sends it', () => {
    const m = tracker({ action: 'announce', interval: 120, info_hash: INFO_HASH, complete: 3, incomplete: 7 })
    expect(m).toEqual({ action: 'announce', info_hash: INFO_HASH, interval: 120, complete: 3, incomplete: 7 })
    expect(Object.keys(m)).not.toContain('min interval')
    const n = tracker({ action: 'announce', interval: 120, 'min interval': 60, info_hash: INFO_HASH })
    expect(n).toEqual({
      action: 'announce',
      info_hash: INFO_HASH,
      interval: 120,
      'min interval': 60,
      complete: 0,
      incomplete: 0
    })
  })

  it('parses a forwarded offer', () => {
    const raw = {
      action: 'announce',
      offer: { type: 'offer', sdp: SDP },
      offer_id: OFFER_ID,
      peer_id: OTHER_PEER,
      info_hash: INFO_HASH
    }
    const m = tracker(raw)
    expect(m).toEqual({
      action: 'announce',
      info_hash: INFO_HASH,
      peer_id: OTHER_PEER,
      offer_id: OFFER_ID,
      offer: { type: 'offer', sdp: SDP }
    })
    expect(Object.keys(m)).not.toContain('region')
    expect(tracker({ ...raw, region: 'eu' })).toMatchObject({ region: 'eu' })
  })

  it('parses a forwarded answer', () => {
    const raw = {
      action: 'announce',
      answer: { type: 'answer', sdp: SDP },
      offer_id: OFFER_ID,
      peer_id: OTHER_PEER,
      info_hash: INFO_HASH
    }
    expect(tracker(raw)).toEqual({
      action: 'announce',
      info_hash: INFO_HASH,
      peer_id: OTHER_PEER,
      offer_id: OFFER_ID,
      answer: { type: 'answer', sdp: SDP }
    })
    // p2pcdn's tracker adds the answerer's region
    expect(tracker({ ...raw, region: 'us' })).toMatchObject({ peer_id: OTHER_PEER, region: 'us' })
  })

  it('parses a failure reason, with or without extra context', () => {
    expect(tracker({ 'failure reason': 'invalid info_hash' })).toEqual({ 'failure reason': 'invalid info_hash' })
    expect(
      tracker({ 'failure reason': 'nope', action: 'announce', info_hash: INFO_HASH, code: 'ERR_PROTOCOL', extra: 1 })
    ).toEqual({ 'failure reason': 'nope', action: 'announce', info_hash: INFO_HASH, code: 'ERR_PROTOCOL' })
    // p2pcdn's tracker adds the refusal's reason, a stable word to branch on
    expect(
      tracker({ 'failure reason': 'swarm is full', action: 'announce', code: 'ERR_PROTOCOL', reason: 'swarm-full' })
    ).toEqual({ 'failure reason': 'swarm is full', action: 'announce', code: 'ERR_PROTOCOL', reason: 'swarm-full' })
    // a failure with junk in the optional fields keeps only the reason
    const m = tracker({ 'failure reason': 'x', action: 5, info_hash: 'short', code: 9, reason: 7 })
    expect(m).toEqual({ 'failure reason': 'x' })
    expect(Object.keys(m)).toEqual(['failure reason'])
  })

  it('parses a scrape response', () => {
    const raw = {
      action: 'scrape',
      files: {
        [INFO_HASH]: { complete: 1, incomplete: 2, downloaded: 3 },
        [binId(9)]: { complete: '4' }
      },
      flags: { min_request_interval: 120 }
    }
    expect(tracker(raw)).toEqual({
      action: 'scrape',
      files: {
        [INFO_HASH]: { complete: 1, incomplete: 2, downloaded: 3 },
        [binId(9)]: { complete: 4, incomplete: 0, downloaded: 0 }
      }
    })
    expect(tracker({ action: 'scrape', files: {} })).toEqual({ action: 'scrape', files: {} })
  })

  it('parses p2pcdn:edges', () => {
    const raw = {
      action: 'p2pcdn:edges',
      v: 1,
      edges: [
        {
          url: 'https://eu1.cdn.example/',
          region: 'eu',
          capacity: 100,
          connections: 2,
          bytesPerSec: 50,
          hitRatio: 0.9,
          secret: 'x'
        },
        { url: 'http://127.0.0.1:9000', region: 'local' }
      ]
    }
    expect(tracker(raw)).toEqual({
      action: 'p2pcdn:edges',
      v: 1,
      edges: [
        { url: 'https://eu1.cdn.example', region: 'eu', capacity: 100, connections: 2, bytesPerSec: 50, hitRatio: 0.9 },
        { url: 'http://127.0.0.1:9000', region: 'local', capacity: 0, connections: 0, bytesPerSec: 0, hitRatio: 0 }
      ]
    })
    expect(tracker({ action: 'p2pcdn:edges', edges: [] })).toEqual({ action: 'p2pcdn:edges', v: 1, edges: [] })
  })

  it('parses p2pcdn:edge-registered', () => {
    expect(tracker({ action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: 5000, x: 1 })).toEqual({
      action: 'p2pcdn:edge-registered',
      v: 1,
      heartbeatMs: 5000
    })
  })

  it('drops unknown extra fields', () => {
    const m = tracker({
      action: 'announce',
      interval: 120,
      info_hash: INFO_HASH,
      complete: 1,
      incomplete: 1,
      peers: [],
      'warning message': 'w'
    })
    expect(m).not.toHaveProperty('peers')
    expect(m).not.toHaveProperty('warning message')
    const o = tracker({
      action: 'announce',
      offer: { type: 'offer', sdp: SDP, x: 1 },
      offer_id: OFFER_ID,
      peer_id: OTHER_PEER,
      info_hash: INFO_HASH,
      to_peer_id: PEER_ID
    })
    expect(o).not.toHaveProperty('to_peer_id')
    expect((o as { offer: unknown }).offer).toEqual({ type: 'offer', sdp: SDP })
    const s = tracker({
      action: 'scrape',
      files: { [INFO_HASH]: { complete: 1, incomplete: 1, downloaded: 1, name: 'x' } }
    })
    expect(s).toEqual({ action: 'scrape', files: { [INFO_HASH]: { complete: 1, incomplete: 1, downloaded: 1 } } })
  })
})

describe('parseTrackerMessage: malformed', () => {
  it('rejects non-JSON, non-objects, arrays and oversize input', () => {
    badTrackerRaw('')
    badTrackerRaw('<html>')
    badTrackerRaw('null')
    badTrackerRaw('1')
    badTrackerRaw('[]')
    badTrackerRaw(JSON.stringify([{ action: 'announce' }]))
    badTrackerRaw(JSON.stringify({ 'failure reason': 'x'.repeat(MAX_MESSAGE_BYTES) }))
  })

  it('rejects an unknown or missing action and names the value', () => {
    const err = expectCode(() => tracker({ action: 'teleport' }), 'ERR_INVALID_MESSAGE')
    expect(err.message).toContain('teleport')
    badTracker({})
    badTracker({ action: 'p2pcdn:edge-register', token: 't', url: 'http://e', region: 'r' }) // client-direction only
    badTracker({ 'failure reason': 42 }) // not a string, so not a failure, and no action
  })

  it('rejects bad announce responses', () => {
    badTracker({ action: 'announce', interval: 120, info_hash: INFO_HASH.slice(1) })
    badTracker({ action: 'announce', interval: 120 })
    badTracker({ action: 'announce', info_hash: INFO_HASH })
    badTracker({ action: 'announce', interval: -1, info_hash: INFO_HASH })
    badTracker({ action: 'announce', interval: 'soon', info_hash: INFO_HASH })
    badTracker({ action: 'announce', interval: 120, info_hash: INFO_HASH, complete: -1 })
    badTracker({ action: 'announce', interval: 120, info_hash: INFO_HASH, 'min interval': -1 })
  })

  it('rejects bad forwarded offers and answers', () => {
    const offer = {
      action: 'announce',
      offer: { type: 'offer', sdp: SDP },
      offer_id: OFFER_ID,
      peer_id: OTHER_PEER,
      info_hash: INFO_HASH
    }
    badTracker({ ...offer, peer_id: undefined })
    badTracker({ ...offer, offer_id: 'x' })
    badTracker({ ...offer, offer: { type: 'answer', sdp: SDP } })
    badTracker({ ...offer, offer: { type: 'offer', sdp: 's'.repeat(16 * 1024 + 1) } })
    badTracker({ ...offer, offer: null })
    badTracker({ ...offer, region: '' })
    const answer = {
      action: 'announce',
      answer: { type: 'answer', sdp: SDP },
      offer_id: OFFER_ID,
      peer_id: OTHER_PEER,
      info_hash: INFO_HASH
    }
    badTracker({ ...answer, answer: { type: 'offer', sdp: SDP } })
    badTracker({ ...answer, answer: { type: 'answer' } })
    badTracker({ ...answer, offer_id: undefined })
    badTracker({ ...answer, peer_id: OTHER_PEER + '\u0100' })
  })

  it('rejects bad scrape responses', () => {
    badTracker({ action: 'scrape' })
    badTracker({ action: 'scrape', files: [] })
    badTracker({ action: 'scrape', files: 'x' })
    badTracker({ action: 'scrape', files: { [INFO_HASH]: 3 } })
    badTracker({ action: 'scrape', files: { [INFO_HASH]: { complete: -1 } } })
  })

  it('rejects bad p2pcdn:edges and p2pcdn:edge-registered', () => {
    badTracker({ action: 'p2pcdn:edges' })
    badTracker({ action: 'p2pcdn:edges', edges: {} })
    badTracker({ action: 'p2pcdn:edges', edges: [null] })
    badTracker({ action: 'p2pcdn:edges', edges: [{ url: 'ftp://e', region: 'r' }] })
    badTracker({ action: 'p2pcdn:edges', edges: [{ url: 'http://e' }] })
    badTracker({ action: 'p2pcdn:edges', edges: [{ url: 'http://e', region: 'r', connections: -1 }] })
    badTracker({ action: 'p2pcdn:edges', v: 0, edges: [] })
    badTracker({ action: 'p2pcdn:edge-registered', v: 1 })
    badTracker({ action: 'p2pcdn:edge-registered', v: 1, heartbeatMs: -1 })
    badTracker({ action: 'p2pcdn:edge-registered', v: 'one', heartbeatMs: 1000 })
  })
})
