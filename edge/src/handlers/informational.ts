/**
 * 1xx interim responses from the origin (RFC 9110 §15.2): forwarded to the client whose
 * request caused them, never stored or replayed. Node writes 102 and 103 itself; other
 * codes have no use past a proxy and are dropped, as is a flood beyond a few.
 */
import type { ServerResponse } from 'node:http'
import type { Headers } from '../headers.js'

/** More interim responses than this for one request are dropped. */
const MAX_INFO_PER_RESPONSE = 8

export function forwardInfo(res: ServerResponse | undefined): ((status: number, headers: Headers) => void) | undefined {
  if (res === undefined) return undefined
  let sent = 0
  return (status, headers) => {
    if (res.headersSent || res.destroyed || ++sent > MAX_INFO_PER_RESPONSE) return
    try {
      if (status === 103 && headers.link !== undefined) res.writeEarlyHints({ link: headers.link })
      else if (status === 102) res.writeProcessing()
    } catch {
      // A Link value Node refuses to write is dropped with its hint: the final answer still comes.
    }
  }
}
