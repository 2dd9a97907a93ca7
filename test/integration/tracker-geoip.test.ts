/**
 * GeoIP regions: a tracker with a country and an ASN database (built by the test) puts
 * clients in regions by the operator's CIDR blocks, then their country, then their
 * continent, and offers peers of the announcer's own network first. Clients come through
 * a "proxy" that names their address in X-Forwarded-For (`trustProxy`).
 */
import { describe, expect, it } from 'vitest'
import type { Tracker } from '../../tracker/src/index.js'
import { binaryId, fakeSdp, getJson, isAnnounceReply, isOffer } from '../helpers/tracker-client.js'
import type { Json, RawTrackerClient } from '../helpers/tracker-client.js'
import { writeMmdb } from '../helpers/mmdb-writer.js'
import type { MmdbValue } from '../helpers/mmdb-writer.js'
import { join, useTrackers } from '../helpers/tracker-harness.js'

const trackers = useTrackers()

const at = (country: string, continent: string): MmdbValue => ({
  country: { iso_code: country, names: { en: country } },
  continent: { code: continent }
})
const COUNTRY_DB = writeMmdb(
  [
    { cidr: '192.0.2.0/24', data: at('DE', 'EU') },
    { cidr: '198.51.100.0/24', data: at('FR', 'EU') },
    { cidr: '203.0.113.0/24', data: at('US', 'NA') },
    { cidr: '100.64.0.0/16', data: at('IT', 'EU') },
    { cidr: '100.65.0.0/16', data: at('JP', 'AS') },
    { cidr: '10.9.0.0/16', data: at('US', 'NA') },
    { cidr: '2001:db8:de::/48', data: at('DE', 'EU') }
  ],
  { databaseType: 'GeoLite2-City' }
)
const ASN_DB = writeMmdb(
  [
    { cidr: '192.0.2.0/25', data: { autonomous_system_number: 64500 } },
    { cidr: '192.0.2.128/25', data: { autonomous_system_number: 64501 } },
    { cidr: '198.51.100.0/24', data: { autonomous_system_number: 64502 } }
  ],
  { databaseType: 'GeoLite2-ASN' }
)
const REGIONS = {
  cidrs: { lab: ['10.9.0.0/16'] },
  countries: { eu: ['DE', 'FR'], us: ['US', 'CA'] },
  continents: { eu: ['EU'] },
  neighbours: { eu: ['us'] }
}

async function from(tracker: Tracker, address: string): Promise<RawTrackerClient> {
  return await trackers.connect(tracker, { headers: { 'x-forwarded-for': `203.0.113.250, ${address}` } })
}

describe('GeoIP regions', () => {
  it('puts DE and FR in eu, US in us, an unlisted EU country in eu, and lets CIDR blocks win', async () => {
    const tracker = await trackers.start({ regions: REGIONS, geoip: COUNTRY_DB, trustProxy: true })
    const infoHash = binaryId()
    const clients: Array<[string, string | undefined]> = [
      ['192.0.2.10', 'asia'], // DE
      ['::ffff:192.0.2.11', undefined], // DE, as a dual-stack socket reports it
      ['2001:db8:de::1', undefined], // DE over IPv6
      ['198.51.100.7', 'us'], // FR
      ['203.0.113.7', 'eu'], // US
      ['100.64.3.3', undefined], // IT: no country rule, the continent rule
      ['100.65.3.3', 'mars'], // JP: no rule at all, so its own claim stands
      ['10.9.0.1', 'eu'] // US by GeoIP, but in the operator's lab block
    ]
    for (const [address, claim] of clients) {
      await join(await from(tracker, address), infoHash, binaryId(), claim === undefined ? {} : { region: claim })
    }
    const stats = (await getJson(`${tracker.httpUrl}/stats`)).body as Json
    expect(stats.peersByRegion).toEqual({ eu: 5, us: 1, mars: 1, lab: 1 })
  })

  it('offers the peers of the announcer`s own network first, then the rest of its region', async () => {
    const tracker = await trackers.start({ regions: REGIONS, geoip: COUNTRY_DB, geoipAsn: ASN_DB, trustProxy: true })
    const infoHash = binaryId()
    // In eu: 4 on AS 64500 (DE), 6 on AS 64501 (DE), 6 on AS 64502 (FR).
    const addresses = [
      ...[1, 2, 3, 4].map(i => `192.0.2.${i}`),
      ...[1, 2, 3, 4, 5, 6].map(i => `192.0.2.${128 + i}`),
      ...[1, 2, 3, 4, 5, 6].map(i => `198.51.100.${i}`)
    ]
    const members: Array<{ client: RawTrackerClient; peerId: string; address: string }> = []
    for (const address of addresses) {
      const client = await from(tracker, address)
      const peerId = binaryId()
      await join(client, infoHash, peerId)
      members.push({ client, peerId, address })
    }
    const asnOf = (address: string): number =>
      address.startsWith('198.') ? 64502 : Number(address.split('.')[3]) >= 128 ? 64501 : 64500

    /** The networks of the members that got one of `n` offers from `announcer`. */
    async function offerNetworks(announcer: (typeof members)[number], n: number): Promise<number[]> {
      const offers = Array.from({ length: n }, (_, i) => ({ offer: fakeSdp('offer', `g${i}`), offer_id: binaryId() }))
      announcer.client.send({ action: 'announce', info_hash: infoHash, peer_id: announcer.peerId, numwant: n, offers })
      await announcer.client.next(isAnnounceReply)
      const fromAnnouncer = (msg: Json): boolean => isOffer(msg) && msg.peer_id === announcer.peerId
      const got = await Promise.all(
        members
          .filter(m => m !== announcer)
          .map(
            async m =>
              await m.client.next(fromAnnouncer, 300).then(
                () => asnOf(m.address),
                () => undefined
              )
          )
      )
      return got.filter((asn): asn is number => asn !== undefined).sort()
    }

    const [small, large] = [members[0]!, members[4]!]
    for (let round = 0; round < 5; round++) {
      expect(await offerNetworks(small, 3)).toEqual([64500, 64500, 64500])
      expect(await offerNetworks(large, 5)).toEqual([64501, 64501, 64501, 64501, 64501])
    }
    // More than its network holds: all of it, then the rest of eu.
    const six = await offerNetworks(small, 6)
    expect(six.filter(asn => asn === 64500)).toHaveLength(3)
    expect(six).toHaveLength(6)
  })
})
