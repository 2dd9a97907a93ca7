import { createHash } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManifestVerifier } from '../../../client/src/manifest-verifier.js'
import { buildManifest, type Manifest } from '../../../protocol/src/index.js'
import {
  createManifestSigner,
  generateManifestKeyPair,
  type ManifestSigner
} from '../../../edge/src/manifest-signer.js'

const URL_ = 'https://origin.example/app.js'

async function signer(): Promise<ManifestSigner> {
  return await createManifestSigner(generateManifestKeyPair().privateKeyPem)
}

async function manifest(url = URL_, type = 'text/javascript'): Promise<Manifest> {
  return await buildManifest(
    { url, type, chunkSize: 1024 },
    new Uint8Array(2500).fill(1),
    async d => new Uint8Array(createHash('sha256').update(d).digest())
  )
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  return await p.then(
    () => ({ message: 'resolved' }),
    (err: { code?: string; message: string }) => err
  )
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('ManifestVerifier', () => {
  it('accepts a manifest signed by a configured key, for the URL fetched', async () => {
    const s = await signer()
    const m = await manifest()
    const v = new ManifestVerifier([s.publicKey])
    await expect(v.verify({ ...m, signatures: [s.sign(m)] }, URL_)).resolves.toBeUndefined()
    await expect(v.verify({ ...m, signatures: [s.sign(m)] }, URL_ + '#top')).resolves.toBeUndefined()
    expect(await v.unavailable()).toBeUndefined()
  })

  it('refuses an unsigned manifest with ERR_SIGNATURE', async () => {
    const s = await signer()
    const err = await rejection(new ManifestVerifier([s.publicKey]).verify(await manifest(), URL_))
    expect(err.code).toBe('ERR_SIGNATURE')
    expect(err.message).toMatch(/not signed/)
  })

  it('refuses a manifest signed by another key', async () => {
    const [ours, theirs] = [await signer(), await signer()]
    const m = await manifest()
    const err = await rejection(
      new ManifestVerifier([ours.publicKey]).verify({ ...m, signatures: [theirs.sign(m)] }, URL_)
    )
    expect(err.code).toBe('ERR_SIGNATURE')
    expect(err.message).toMatch(/no configured key/)
  })

  it('refuses a changed field under a real signature, and a changed signature', async () => {
    const s = await signer()
    const m = await manifest()
    const v = new ManifestVerifier([s.publicKey])
    const signature = s.sign(m)
    // The attack measured before: a script served as text/html.
    expect((await rejection(v.verify({ ...m, type: 'text/html', signatures: [signature] }, URL_))).code).toBe(
      'ERR_SIGNATURE'
    )
    expect(
      (await rejection(v.verify({ ...m, chunks: [...m.chunks].reverse(), signatures: [signature] }, URL_))).code
    ).toBe('ERR_SIGNATURE')
    const flipped = (signature.sig[0] === 'A' ? 'B' : 'A') + signature.sig.slice(1)
    const err = await rejection(v.verify({ ...m, signatures: [{ ...signature, sig: flipped }] }, URL_))
    expect(err.code).toBe('ERR_SIGNATURE')
    expect(err.message).toMatch(/does not verify/)
  })

  it('refuses a genuine signed manifest of another URL (no swapping resources)', async () => {
    const s = await signer()
    const other = await manifest('https://origin.example/other.js')
    const err = await rejection(
      new ManifestVerifier([s.publicKey]).verify({ ...other, signatures: [s.sign(other)] }, URL_)
    )
    expect(err.code).toBe('ERR_SIGNATURE')
    expect(err.message).toMatch(/not https:\/\/origin.example\/app.js/)
  })

  it('rotation: any configured key will do, and unknown signatures next to a good one are ignored', async () => {
    const [old, next, stranger] = [await signer(), await signer(), await signer()]
    const m = await manifest()
    const v = new ManifestVerifier([old.publicKey, next.publicKey])
    await expect(v.verify({ ...m, signatures: [next.sign(m)] }, URL_)).resolves.toBeUndefined()
    await expect(v.verify({ ...m, signatures: [old.sign(m)] }, URL_)).resolves.toBeUndefined()
    await expect(v.verify({ ...m, signatures: [stranger.sign(m), next.sign(m)] }, URL_)).resolves.toBeUndefined()
  })

  it('without Ed25519 in WebCrypto it refuses everything, signed or not, and says so', async () => {
    vi.spyOn(crypto.subtle, 'importKey').mockRejectedValue(new DOMException('Unrecognized name', 'NotSupportedError'))
    const s = await signer()
    const m = await manifest()
    const v = new ManifestVerifier([s.publicKey])
    expect((await v.unavailable())?.code).toBe('ERR_SIGNATURE')
    const err = await rejection(v.verify({ ...m, signatures: [s.sign(m)] }, URL_))
    expect(err.code).toBe('ERR_SIGNATURE')
    expect(err.message).toMatch(/cannot verify Ed25519/)
  })
})
