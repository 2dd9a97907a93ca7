/**
 * `p2pcdn keygen [--out PREFIX]`: a new Ed25519 key pair for signing manifests.
 * `PREFIX.key` is the private key (PKCS#8 PEM, mode 0600) for `edge --manifest-key` and
 * `manifest --sign`; `PREFIX.pub` is the raw public key as base64url (43 chars), the
 * value of the page's `data-manifest-key`.
 */
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { createManifestSigner, generateManifestKeyPair } from './manifest-signer.js'
import { errorMessageOf } from '../../protocol/src/index.js'

const USAGE = `Usage: p2pcdn keygen [--out PREFIX] [--force]

  --out PREFIX   write PREFIX.key (private, PEM, mode 0600) and PREFIX.pub (public, base64url) [p2pcdn-manifest]
  --force        overwrite existing files`

/** @param argv the arguments after `p2pcdn keygen` */
export async function keygenMain(argv: string[]): Promise<void> {
  let prefix: string
  let force: boolean
  try {
    const { values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: { out: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }
    })
    if (values.help === true) {
      process.stdout.write(USAGE + '\n')
      return
    }
    prefix = values.out ?? 'p2pcdn-manifest'
    if (prefix === '') throw new Error('--out: expected a path prefix')
    force = values.force === true
  } catch (err) {
    process.stderr.write(`p2pcdn keygen: ${errorMessageOf(err)}\n\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  const { privateKeyPem, publicKey } = generateManifestKeyPair()
  const { keyId } = await createManifestSigner(privateKeyPem)
  // 'wx' refuses to replace a key someone may already have deployed.
  const flag = force ? 'w' : 'wx'
  try {
    await writeFile(`${prefix}.key`, privateKeyPem, { mode: 0o600, flag })
    await writeFile(`${prefix}.pub`, publicKey + '\n', { flag })
  } catch (err) {
    process.stderr.write(`p2pcdn keygen: ${errorMessageOf(err)} (use --force to overwrite)\n`)
    process.exitCode = 1
    return
  }
  process.stdout.write(`private key: ${prefix}.key (keep it secret: edge --manifest-key / manifest --sign)
public key:  ${prefix}.pub
key id:      ${keyId}

<script src=".../p2pcdn.js" data-manifest-key="${publicKey}" ...></script>
`)
}
