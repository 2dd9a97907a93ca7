/**
 * The tracker over TLS: wss:// announces, HTTPS endpoints, and an edge that trusts the
 * tracker's self-signed certificate through `trackerCa` and registers over wss://.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent, fetch } from 'undici'
import { createEdge } from '../../edge/src/index.js'
import type { Edge } from '../../edge/src/index.js'
import { startOrigin } from '../helpers/origin.js'
import type { TestOrigin } from '../helpers/origin.js'
import { binaryId, connectRaw } from '../helpers/tracker-client.js'
import { join, useTrackers } from '../helpers/tracker-harness.js'
import { selfSignedCert } from '../helpers/tls.js'
import type { SelfSignedCert } from '../helpers/tls.js'

const TOKEN = 'edge-secret'
const { start, connect } = useTrackers()
let tls: SelfSignedCert
let agent: Agent

beforeAll(async () => {
  tls = await selfSignedCert()
  // The certificate signs itself, so it is its own CA.
  agent = new Agent({ connect: { ca: tls.cert } })
})

afterAll(async () => {
  await agent.close()
})

async function getJsonTls(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { dispatcher: agent })
  return { status: res.status, body: await res.json() }
}

describe('tracker with tls', () => {
  it('serves announces over wss:// and the JSON endpoints over HTTPS', async () => {
    const tracker = await start({ tls })
    expect(tracker.url).toBe(`wss://127.0.0.1:${tracker.port}`)
    expect(tracker.httpUrl).toBe(`https://127.0.0.1:${tracker.port}`)

    const client = await connect(tracker, { ca: tls.cert })
    const reply = await join(client, binaryId(), binaryId())
    expect(reply).toMatchObject({ action: 'announce', interval: 120 })

    expect(await getJsonTls(`${tracker.httpUrl}/healthz`)).toEqual({ status: 200, body: { ok: true } })
    expect((await getJsonTls(`${tracker.httpUrl}/stats`)).body).toMatchObject({ peers: 1 })
  })

  it('refuses a client that does not trust the certificate', async () => {
    const tracker = await start({ tls })
    await expect(connectRaw(tracker.url)).rejects.toThrow(/self[- ]signed/i)
  })

  it('rejects a tls option without both PEM parts, naming the option', async () => {
    await expect(start({ tls: { cert: tls.cert, key: '' } })).rejects.toThrow(/Invalid option "tls"/)
    await expect(start({ tls: { cert: tls.cert } as unknown as SelfSignedCert })).rejects.toThrow(
      /Invalid option "tls"/
    )
  })
})

describe('edge registering with a wss:// tracker', () => {
  let origin: TestOrigin
  let edge: Edge | undefined

  beforeAll(async () => {
    origin = await startOrigin({})
  })

  afterAll(async () => {
    await edge?.stop()
    await origin.close()
  })

  it('trusts the tracker through trackerCa and shows up in GET /edges', async () => {
    const tracker = await start({ tls, edgeToken: TOKEN })
    edge = createEdge({
      origin: origin.url,
      port: 0,
      region: 'eu',
      tracker: tracker.url,
      trackerCa: tls.cert,
      edgeToken: TOKEN
    })
    await edge.start()
    let edges: Array<{ url: string; region: string }> = []
    for (let i = 0; i < 200 && edges.length === 0; i++) {
      edges = ((await getJsonTls(`${tracker.httpUrl}/edges`)).body as { edges: typeof edges }).edges
      if (edges.length === 0) await new Promise(resolve => setTimeout(resolve, 25))
    }
    expect(edges).toMatchObject([{ url: edge.url, region: 'eu' }])
    await edge.stop()
    edge = undefined
  })
})
