import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
const { Duplex } = require('../../../client/src/shims/readable-stream.cjs') as { Duplex: new () => any }

describe('the readable-stream stand-in simple-peer runs on', () => {
  it('queues data pushed before a listener and keeps message boundaries and order', async () => {
    const d = new Duplex()
    d.push(Uint8Array.of(1))
    d.push(Uint8Array.of(2, 3))
    const got: number[][] = []
    d.on('data', (b: Uint8Array) => got.push([...b]))
    d.push(Uint8Array.of(4))
    await Promise.resolve()
    expect(got).toEqual([[1], [2, 3], [4]])
  })

  it('once listeners can be removed by the original function; end and push(null) fire once', () => {
    const d = new Duplex()
    const calls: string[] = []
    const onFinish = (): void => {
      calls.push('finish')
    }
    d.once('finish', onFinish)
    d.removeListener('finish', onFinish)
    d.on('end', () => calls.push('end'))
    d.end()
    d.push(null)
    d.push(null)
    expect(calls).toEqual(['end'])
    expect(d._readableState.ended).toBe(true)
    expect(d._writableState.finished).toBe(true)
  })
})
