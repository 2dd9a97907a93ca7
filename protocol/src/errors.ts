/**
 * Every error p2pcdn raises carries a stable `code`. Match on `err.code`, not on
 * `instanceof`: codes survive the wire and two copies of the SDK on one page.
 *
 * The README's "Error codes" table says where each is raised and what a page sees.
 *
 * | code | meaning |
 * | --- | --- |
 * | ERR_INVALID_MESSAGE | a tracker message or wire frame is malformed |
 * | ERR_PROTOCOL | well-formed but not allowed (bad token, unknown peer, ...) |
 * | ERR_TIMEOUT | a step did not finish in time |
 * | ERR_INTEGRITY | bytes arrived and do not match the manifest hash |
 * | ERR_INVALID_MANIFEST | a manifest is malformed or outside the manifest bounds (`constants.ts`) |
 * | ERR_HTTP | an edge or origin could not be reached or answered with an unusable status |
 * | ERR_ABORTED | the caller aborted |
 * | ERR_SIGNATURE | a manifest is unsigned, signed by no configured key, its signature does not verify, or it is for another URL (only with a manifest key configured) |
 * | ERR_STORAGE | the chunk store (IndexedDB) failed to read, write or delete |
 * | ERR_TRACKER | the tracker refused or failed a request; the message is its `failure reason` |
 * | ERR_INTERNAL | a failure with no code of its own (a bug, or something unforeseen); the message is its own |
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
  | 'ERR_STORAGE'
  | 'ERR_TRACKER'
  | 'ERR_INTERNAL'

/** Every code, for telling a catalogue code from any other `code` property (DOMException's, Node's). */
export const ERROR_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_INVALID_MESSAGE',
  'ERR_PROTOCOL',
  'ERR_TIMEOUT',
  'ERR_INTEGRITY',
  'ERR_INVALID_MANIFEST',
  'ERR_HTTP',
  'ERR_ABORTED',
  'ERR_SIGNATURE',
  'ERR_STORAGE',
  'ERR_TRACKER',
  'ERR_INTERNAL'
])

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

/** A deadline passed: a peer's (chunk-fetcher.ts) or an HTTP request's (`httpTimeoutMs`). */
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

/** The chunk store failed; what was being done goes on without it. */
export class StorageError extends CdnError {
  constructor(message: string) {
    super('ERR_STORAGE', message)
    this.name = 'StorageError'
  }
}

/**
 * The catalogue code of anything thrown: its own `code` when that is one of ours, else by
 * what it is (an AbortError aborted, a TimeoutError timed out), else ERR_INTERNAL: an
 * error with no code is not an HTTP failure, nor any other one we could name.
 */
export function errorCodeOf(err: unknown): ErrorCode {
  const { code, name } = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; name?: unknown }
  if (typeof code === 'string' && ERROR_CODES.has(code)) return code as ErrorCode
  if (name === 'AbortError') return 'ERR_ABORTED'
  if (name === 'TimeoutError') return 'ERR_TIMEOUT'
  return 'ERR_INTERNAL'
}

/** The message of anything thrown, for logs and error events (a thrown string stays itself). */
export function errorMessageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
