/**
 * Signed manifests from Node: an edge with `manifestKey` signs every manifest it serves;
 * `p2pcdn keygen` writes a key pair; `p2pcdn manifest --sign` writes a signed sidecar.
 * Signatures are checked here with WebCrypto Ed25519, as the SDK checks them.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ManifestVerifier } from '../../client/src/manifest-verifier.js'
import { parseManifest, resourceId, serializeManifest } from '../../protocol/src/index.js'
import { createEdge, type Edge } from '../../edge/src/index.js'
import { keygenMain } from '../../edge/src/keygen-cli.js'
import { manifestMain } from '../../edge/src/manifest-cli.js'
import {
  createManifestSigner,
  generateManifestKeyPair,
  verifyManifestSignature
} from '../../edge/src/manifest-signer.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import { startOrigin, type TestOrigin } from '../helpers/origin.js'

const BODY = deterministicBytes(70_000, 'edge-signing')
const CACHEABLE = { 'Cache-Control': 'public, max-age=3600' }

let origin: TestOrigin
let tmp: string
const edges: Edge[] = []

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'p2pcdn-sign-'))
  origin = await startOrigin({
    '/a.bin': { body: BODY, headers: CACHEABLE },
    '/b.bin': { body: BODY, headers: CACHEABLE }
  })
})

afterAll(async () => {
  for (const e of edges) await e.stop()
  await origin?.close()
  await rm(tmp, { recursive: true, force: true })
})

async function startEdge(manifestKey?: string): Promise<Edge> {
  const e = createEdge({
    origin: origin.url,
    port: 0,
    chunkSize: 16 * 1024,
    sdkPath: join(tmp, 'none.js'),
    manifestKey
  })
  await e.start()
  edges.push(e)
  return e
}

/** Run a CLI entry in-process and collect what it wrote to stdout and stderr. */
async function runCli(
  main: (argv: string[]) => Promise<void>,
  argv: string[]
): Promise<{ out: string; err: string; code: number }> {
  let out = ''
  let err = ''
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s)
    return true
  })
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s)
    return true
  })
  process.exitCode = undefined
  try {
    await main(argv)
  } finally {
    o.mockRestore()
    e.mockRestore()
  }
  const code = Number(process.exitCode ?? 0)
  process.exitCode = undefined
  return { out, err, code }
}

describe('edge --manifest-key', () => {
  it('serves every manifest with a signature that WebCrypto verifies; the resource id is unchanged', async () => {
    const key = generateManifestKeyPair()
    const signed = await startEdge(key.privateKeyPem)
    const plain = await startEdge()
    const text = await (await fetch(`${signed.url}/_p2pcdn/manifest?url=/a.bin`)).text()
    const m = parseManifest(text)
    expect(m.signatures).toHaveLength(1)
    const signer = await createManifestSigner(key.privateKeyPem)
    expect(m.signatures![0]!.keyId).toBe(signer.keyId)
    await expect(new ManifestVerifier([key.publicKey]).verify(m, `${origin.url}/a.bin`)).resolves.toBeUndefined()
    expect(verifyManifestSignature(m, m.signatures![0]!, key.publicKey)).toBe(true)

    const unsigned = parseManifest(await (await fetch(`${plain.url}/_p2pcdn/manifest?url=/a.bin`)).text())
    expect(unsigned.signatures).toBeUndefined()
    const sha = async (d: Uint8Array): Promise<Uint8Array> => new Uint8Array(await crypto.subtle.digest('SHA-256', d))
    expect(await resourceId(m, sha)).toBe(await resourceId(unsigned, sha))
    // Asked again (a HIT), the same bytes: signed once per stored manifest.
    expect(await (await fetch(`${signed.url}/_p2pcdn/manifest?url=/a.bin`)).text()).toBe(text)
  })

  it('refuses a key that is not an Ed25519 private key, naming the option', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString()
    expect(() => createEdge({ origin: origin.url, manifestKey: rsa })).toThrow(/"manifestKey": expected an Ed25519 key/)
    expect(() => createEdge({ origin: origin.url, manifestKey: 'not a key' })).toThrow(TypeError)
    expect(() => createEdge({ origin: origin.url, manifestKey: generateManifestKeyPair().publicKey })).toThrow(
      /manifestKey/
    )
  })
})

describe('p2pcdn keygen', () => {
  it('writes PREFIX.key (PEM, 0600) and PREFIX.pub (base64url raw key), and never overwrites without --force', async () => {
    const prefix = join(tmp, 'site')
    const first = await runCli(keygenMain, ['--out', prefix])
    expect(first.code).toBe(0)
    const pem = await readFile(`${prefix}.key`, 'utf8')
    const pub = (await readFile(`${prefix}.pub`, 'utf8')).trim()
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/)
    expect((await stat(`${prefix}.key`)).mode & 0o777).toBe(0o600)
    expect(pub).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const signer = await createManifestSigner(pem)
    expect(signer.publicKey).toBe(pub)
    expect(first.out).toContain(`data-manifest-key="${pub}"`)
    expect(first.out).toContain(signer.keyId)

    const again = await runCli(keygenMain, ['--out', prefix])
    expect(again.code).toBe(1)
    expect(await readFile(`${prefix}.key`, 'utf8')).toBe(pem)
    expect((await runCli(keygenMain, ['--out', prefix, '--force'])).code).toBe(0)
    expect(await readFile(`${prefix}.key`, 'utf8')).not.toBe(pem)
  })
})

describe('p2pcdn manifest --sign', () => {
  it('writes a sidecar signed by each key (rotation), verifiable for its --url', async () => {
    const file = join(tmp, 'a.bin')
    await writeFile(file, BODY)
    const [k1, k2] = [generateManifestKeyPair(), generateManifestKeyPair()]
    await writeFile(join(tmp, 'k1.key'), k1.privateKeyPem)
    await writeFile(join(tmp, 'k2.key'), k2.privateKeyPem)
    const out = join(tmp, 'a.bin.p2pcdn.json')
    const url = `${origin.url}/a.bin`
    const r = await runCli(manifestMain, [
      file,
      '--url',
      url,
      '--type',
      'application/octet-stream',
      '--sign',
      join(tmp, 'k1.key'),
      '--sign',
      join(tmp, 'k2.key'),
      '--out',
      out
    ])
    expect(r).toMatchObject({ code: 0, out: '' })
    const m = parseManifest(await readFile(out, 'utf8'))
    expect(m.url).toBe(url)
    expect(m.signatures).toHaveLength(2)
    await expect(new ManifestVerifier([k2.publicKey]).verify(m, url)).resolves.toBeUndefined()
    await expect(new ManifestVerifier([k1.publicKey]).verify(m, url)).resolves.toBeUndefined()
    await expect(new ManifestVerifier([k1.publicKey]).verify(m, `${origin.url}/b.bin`)).rejects.toMatchObject({
      code: 'ERR_SIGNATURE'
    })
  })

  it('without --sign prints the unsigned manifest as before; --sign without --url is refused', async () => {
    const file = join(tmp, 'a.bin')
    const plain = await runCli(manifestMain, [file, '--url', 'https://o.example/a.bin'])
    expect(plain.code).toBe(0)
    expect(plain.out).toBe(serializeManifest(parseManifest(plain.out)) + '\n')
    const noUrl = await runCli(manifestMain, [file, '--sign', join(tmp, 'k1.key')])
    expect(noUrl.code).toBe(2)
    expect(noUrl.err).toMatch(/--sign needs --url/)
    const badKey = await runCli(manifestMain, [file, '--url', 'https://o.example/a.bin', '--sign', file])
    expect(badKey.code).toBe(2)
    expect(badKey.err).toMatch(/not a PEM private key/)
  })
})
