import net from 'node:net'
import type { AddressInfo } from 'node:net'

/**
 * A port on 127.0.0.1 that nothing listens on now, for a server whose address must be
 * known before it binds (a `--public-url`, a parent that starts later, a dead address).
 * Another process may take it before then: callers that start a server on it retry.
 */
export async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}
