/** Listening, and the URL a listening service is reached at. */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Listen on `host:port` (0 = any free port). Rejects when the port is taken. */
export async function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return server.address() as AddressInfo
}

/**
 * `host` as it goes in a URL: IPv6 in brackets, and an unspecified bind address (which no
 * client can connect to) as the loopback one of its family.
 */
export function hostForUrl(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

/** `scheme://host:port`, the scheme's secure form with TLS. */
export function serviceUrl(scheme: 'http' | 'ws', secure: boolean, host: string, port: number): string {
  return `${scheme}${secure ? 's' : ''}://${hostForUrl(host)}:${port}`
}
