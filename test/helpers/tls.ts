/** Throwaway TLS material for tests that need HTTPS or wss:// on 127.0.0.1. */
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface SelfSignedCert {
  /** PEM certificate; also the CA a client must trust, since it signs itself. */
  cert: Buffer
  key: Buffer
}

/**
 * A one-day self-signed certificate for 127.0.0.1 made with the `openssl` CLI (Node has no
 * API to create certificates). The subjectAltName is what clients check: CN alone is ignored.
 */
export async function selfSignedCert(): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), 'p2pcdn-tls-'))
  try {
    const key = join(dir, 'key.pem')
    const cert = join(dir, 'cert.pem')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1'
      ],
      { stdio: 'ignore' }
    )
    return { cert: await readFile(cert), key: await readFile(key) }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
