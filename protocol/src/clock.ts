/**
 * Milliseconds since the epoch. The tracker and the edge take one as an option, so that
 * expiry, freshness and rates can be tested with a fake clock instead of sleeping.
 */
export type Now = () => number

export const systemNow: Now = () => Date.now()
