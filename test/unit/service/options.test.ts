/** The one option error format, whichever way an option came, and the shared backoff. */
import { describe, expect, it } from 'vitest'
import { backoffDelayMs } from '../../../protocol/src/index.js'
import { FlagReader, OptionError, checkPort } from '../../../service/src/options.js'

describe('FlagReader', () => {
  it('prefers the flag, falls back to the variable, and treats an empty variable as unset', () => {
    const flags = new FlagReader({ port: '8001' }, { P2PCDN_PORT: '9', P2PCDN_HOST: '' })
    expect(flags.port('port', 'P2PCDN_PORT')).toBe(8001)
    expect(flags.string('host', 'P2PCDN_HOST')).toBeUndefined()
    expect(new FlagReader({}, { P2PCDN_PORT: '9' }).port('port', 'P2PCDN_PORT')).toBe(9)
  })

  it('names the flag or the variable the bad value came from, and the value', () => {
    expect(() => new FlagReader({ port: 'eighty' }, {}).port('port', 'P2PCDN_PORT')).toThrow(
      'Invalid option "--port": expected an integer from 0 to 65535, got "eighty"'
    )
    expect(() =>
      new FlagReader({}, { P2PCDN_MESSAGE_BURST: '0' }).integer('message-burst', 'P2PCDN_MESSAGE_BURST')
    ).toThrow('Invalid option "P2PCDN_MESSAGE_BURST": expected a positive integer, got "0"')
    expect(() => checkPort('port', 70_000)).toThrow(
      'Invalid option "port": expected an integer from 0 to 65535, got 70000'
    )
    expect(() => checkPort('port', -1)).toThrow(OptionError)
  })

  it('refuses a certificate without its key, naming the one given', () => {
    expect(() => new FlagReader({ cert: 'c.pem' }, {}).tls()).toThrow(
      /^Invalid option "--cert": expected to come with --key/
    )
    expect(() => new FlagReader({}, { P2PCDN_KEY: 'k.pem' }).tls()).toThrow(/^Invalid option "P2PCDN_KEY"/)
  })
})

describe('backoffDelayMs', () => {
  it('doubles up to the maximum, with half of each delay fixed and half random', () => {
    const backoff = { minMs: 500, maxMs: 30_000 }
    expect(backoffDelayMs(0, backoff, () => 0)).toBe(250)
    expect(backoffDelayMs(0, backoff, () => 1)).toBe(500)
    expect(backoffDelayMs(3, backoff, () => 0.5)).toBe(3000)
    expect(backoffDelayMs(60, backoff, () => 1)).toBe(30_000)
  })
})
