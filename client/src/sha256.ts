import type { Sha256 } from '../../protocol/src/index.js'

/** SHA-256 through WebCrypto (needs a secure context: https or localhost). */
export const sha256: Sha256 = async data =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>))
