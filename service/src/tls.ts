/** TLS for a service: the option's check, and the HTTP or HTTPS server it selects. */
import { createServer } from 'node:http'
import type { RequestListener, Server } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { optionError } from './options.js'

/** PEM certificate chain and private key: serve HTTPS (and `wss://`) instead of HTTP. */
export interface TlsOptions {
  cert: string | Buffer
  key: string | Buffer
}

export function checkTls(option: string, value: unknown): TlsOptions {
  const pem = (v: unknown): boolean => (typeof v === 'string' || Buffer.isBuffer(v)) && v.length > 0
  if (typeof value !== 'object' || value === null) throw optionError(option, '{ cert, key } with PEM contents')
  const { cert, key } = value as Record<string, unknown>
  // Key material is never echoed.
  if (!pem(cert) || !pem(key)) throw optionError(option, '{ cert, key } with non-empty PEM contents')
  return value as TlsOptions
}

/**
 * An `http.Server`, or with `tls` an `https.Server`, which has the same interface (and
 * `upgrade` event), so what is built on it works on either unchanged.
 */
export function createServiceServer(tls: TlsOptions | undefined, onRequest: RequestListener): Server {
  return tls === undefined ? createServer(onRequest) : createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest)
}
