/**
 * Every error p2pcdn raises carries a stable `code`. Match on `err.code`, not on
 * `instanceof`: codes survive the wire and two copies of the SDK on one page.
 *
 * | code | meaning |
 * | --- | --- |
 * | ERR_INVALID_MESSAGE | a tracker message or wire frame is malformed |
 * | ERR_PROTOCOL | well-formed but not allowed (bad token, unknown peer, ...) |
 * | ERR_TIMEOUT | a step did not finish in time |
 * | ERR_INTEGRITY | bytes do not match the manifest hash |
 * | ERR_INVALID_MANIFEST | a manifest is malformed or outside the manifest bounds (`constants.ts`) |
 * | ERR_HTTP | an edge or origin answered with an unusable status |
 * | ERR_ABORTED | the caller aborted |
 * | ERR_SIGNATURE | a manifest is unsigned, signed by no configured key, its signature does not verify, or it is for another URL (only with a manifest key configured) |
 */
export type ErrorCode =
  | 'ERR_INVALID_MESSAGE'
  | 'ERR_PROTOCOL'
  | 'ERR_TIMEOUT'
  | 'ERR_INTEGRITY'
  | 'ERR_INVALID_MANIFEST'
  | 'ERR_HTTP'
  | 'ERR_ABORTED'
  | 'ERR_SIGNATURE'

export class CdnError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string) {
    super(message)
    this.code = code
    this.name = 'CdnError'
  }
}

/** Input that does not parse: wrong JSON, missing or mistyped field, unknown action. */
export class InvalidMessageError extends CdnError {
  constructor(message: string) {
    super('ERR_INVALID_MESSAGE', message)
    this.name = 'InvalidMessageError'
  }
}

/** Input that parses but is not allowed. */
export class ProtocolError extends CdnError {
  constructor(message: string) {
    super('ERR_PROTOCOL', message)
    this.name = 'ProtocolError'
  }
}

export class TimeoutError extends CdnError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message)
    this.name = 'TimeoutError'
  }
}

export class IntegrityError extends CdnError {
  constructor(message: string) {
    super('ERR_INTEGRITY', message)
    this.name = 'IntegrityError'
  }
}

export class InvalidManifestError extends CdnError {
  constructor(message: string) {
    super('ERR_INVALID_MANIFEST', message)
    this.name = 'InvalidManifestError'
  }
}

/** A manifest the page's `manifestKey` does not vouch for: it is not used. */
export class SignatureError extends CdnError {
  constructor(message: string) {
    super('ERR_SIGNATURE', message)
    this.name = 'SignatureError'
  }
}

/** The message of anything thrown, for logs and error events (a thrown string stays itself). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
