/**
 * Where a fetch's manifest comes from (client/src/manifest-source.ts), with its loader
 * stubbed: edges first without a key, the signed sidecar first with one, and nothing
 * unverified once a key is configured.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { resolveConfig, type ClientInit } from '../../../client/src/config.js'
import { EdgeSet } from '../../../client/src/edge-set.js'
import { ManifestSource } from '../../../client/src/manifest-source.js'
import {
  buildManifest,
  CdnError,
  parseManifest,
  serializeSignedManifest,
  type Manifest
} from '../../../protocol/src/index.js'
import { createManifestSigner, generateManifestKeyPair } from '../../../edge/src/manifest-signer.js'

const URL_ = 'https://origin.example/app.js'
const EDGE = 'https://eu1.cdn.example'
const SIDECAR = `${URL_}.p2pcdn.json`
const MANIFEST_AT_EDGE = `${EDGE}/_p2pcdn/manifest?url=${encodeURIComponent(URL_)}`

const key = generateManifestKeyPair()
const signer = await createManifestSigner(key.privateKeyPem)
const plain: Manifest = await buildManifest(
  { url: URL_, type: 'text/javascript', chunkSize: 1024 },
  new Uint8Array(2000).fill(3),
  async d => new Uint8Array(createHash('sha256').update(d).digest())
)
const signed = serializeSignedManifest(plain, [signer.sign(plain)])

let routes: Record<string, string> = {}
let asked: string[] = []

/** Answer manifest loads from `r` (a 404 `ERR_HTTP` elsewhere); returns the URLs asked, in order. */
function serve(r: Record<string, string>): string[] {
  routes = r
  asked = []
  return asked
}

async function load(url: string): Promise<Manifest> {
  asked.push(url)
  const body = routes[url]
  if (body === undefined) throw Object.assign(new CdnError('ERR_HTTP', `${url} answered 404`), { serverFault: false })
  return parseManifest(body)
}

function source(init: ClientInit): { source: ManifestSource; errors: string[]; edges: EdgeSet } {
  const errors: string[] = []
  const edges = new EdgeSet([{ url: EDGE, region: 'eu', rttMs: 1 }], 30_000)
  const config = resolveConfig({ edges: [EDGE], ...init })
  return {
    source: new ManifestSource({
      config,
      edges: () => edges,
      load,
      report: err => errors.push((err as { code: string }).code)
    }),
    errors,
    edges
  }
}

const signal = new AbortController().signal

describe('ManifestSource', () => {
  it("without a key: the edge's manifest, signed or not; the sidecar only when no edge gives one", async () => {
    const asked = serve({ [MANIFEST_AT_EDGE]: JSON.stringify(plain), [SIDECAR]: signed })
    const { source: s } = source({ manifestSuffix: '.p2pcdn.json' })
    expect(await s.get(URL_, signal)).toEqual(plain)
    expect(asked).toEqual([MANIFEST_AT_EDGE])
    const onlySidecar = serve({ [SIDECAR]: signed })
    const { source: s2, errors } = source({ manifestSuffix: '.p2pcdn.json' })
    expect((await s2.get(URL_, signal))?.chunks).toEqual(plain.chunks)
    expect(onlySidecar).toEqual([MANIFEST_AT_EDGE, SIDECAR])
    expect(errors).toEqual(['ERR_HTTP'])
  })

  it('with a key and a suffix: the sidecar first; the edge is not asked when it verifies', async () => {
    const asked = serve({ [SIDECAR]: signed, [MANIFEST_AT_EDGE]: JSON.stringify(plain) })
    const { source: s, errors } = source({ manifestKey: key.publicKey, manifestSuffix: '.p2pcdn.json' })
    expect((await s.get(`${URL_}#frag`, signal))?.signatures).toHaveLength(1)
    expect(asked).toEqual([SIDECAR])
    expect(errors).toEqual([])
  })

  it('with a key: an unsigned edge manifest is refused (ERR_SIGNATURE) and the edge set aside; nothing is used', async () => {
    const asked = serve({ [MANIFEST_AT_EDGE]: JSON.stringify(plain) })
    const { source: s, errors, edges } = source({ manifestKey: key.publicKey })
    expect(await s.get(URL_, signal)).toBeUndefined()
    expect(errors).toEqual(['ERR_SIGNATURE'])
    expect(edges.usable()).toEqual([])
    expect(asked).toEqual([MANIFEST_AT_EDGE])
  })

  it("with a key: a missing sidecar falls back to the edge's signed manifest; a sidecar that does not verify too", async () => {
    serve({ [MANIFEST_AT_EDGE]: signed })
    const a = source({ manifestKey: key.publicKey, manifestSuffix: '.p2pcdn.json' })
    expect((await a.source.get(URL_, signal))?.signatures).toHaveLength(1)
    expect(a.errors).toEqual(['ERR_HTTP'])
    serve({ [SIDECAR]: JSON.stringify(plain), [MANIFEST_AT_EDGE]: signed })
    const b = source({ manifestKey: key.publicKey, manifestSuffix: '.p2pcdn.json' })
    expect((await b.source.get(URL_, signal))?.signatures).toHaveLength(1)
    expect(b.errors).toEqual(['ERR_SIGNATURE'])
    // With a key the sidecar is never asked a second time after the edges.
    serve({})
    const c = source({ manifestKey: key.publicKey, manifestSuffix: '.p2pcdn.json' })
    expect(await c.source.get(URL_, signal)).toBeUndefined()
    expect(c.errors).toEqual(['ERR_HTTP', 'ERR_HTTP'])
  })
})
