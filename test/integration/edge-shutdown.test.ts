/**
 * `edge.stop()` drains: a download in flight when it is called still gets its whole body,
 * while new connections are refused; one slower than `shutdownGraceMs` is cut once the
 * bound passes. The origin holds the second half of the body until the test lets it go,
 * so "in flight" is a fact, not a race; every wait is on an event.
 */
import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEdge } from '../../edge/src/index.js'
import type { Edge } from '../../edge/src/index.js'
import { deterministicBytes } from '../../examples/demo/deterministic-bytes.js'
import type { LogFields } from '../../protocol/src/index.js'
import { startOrigin } from '../helpers/origin.js'
import type { TestOrigin } from '../helpers/origin.js'

const BODY = Buffer.from(deterministicBytes(512 * 1024, 'edge-shutdown'))
const HALF = BODY.length / 2

/** The origin's held responses, released by the test. */
const held = new Set<() => void>()
let origin: TestOrigin

/** Send the head and the first half, then the rest only once released. */
function halfThenHold(_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(BODY.length),
    'cache-control': 'public, max-age=60'
  })
  res.write(BODY.subarray(0, HALF))
  const release = (): void => {
    held.delete(release)
    res.end(BODY.subarray(HALF))
  }
  held.add(release)
}

beforeAll(async () => {
  origin = await startOrigin({
    '/drained.bin': { body: BODY, handler: halfThenHold },
    '/cut.bin': { body: BODY, handler: halfThenHold }
  })
})

afterAll(async () => {
  for (const release of [...held]) release()
  await origin.close()
})

interface Download {
  /** Resolves once some of the body has arrived. */
  started: Promise<void>
  /** Resolves with what arrived and whether the response completed. */
  done: Promise<{ body: Buffer; complete: boolean }>
}

function download(url: string): Download {
  let onStart: () => void = () => {}
  const started = new Promise<void>(resolve => (onStart = resolve))
  const done = new Promise<{ body: Buffer; complete: boolean }>((resolve, reject) => {
    http
      .get(url, res => {
        const parts: Buffer[] = []
        res.on('data', (chunk: Buffer) => {
          parts.push(chunk)
          onStart()
        })
        // 'close' comes after 'end' on a full body, and alone when the connection is cut.
        res.on('close', () => resolve({ body: Buffer.concat(parts), complete: res.complete }))
        res.on('error', () => {})
      })
      .on('error', reject)
  })
  return { started, done }
}

async function refused(url: string): Promise<boolean> {
  return await new Promise(resolve => {
    http
      .get(url, res => {
        res.resume()
        resolve(false)
      })
      .on('error', err => resolve((err as NodeJS.ErrnoException).code === 'ECONNREFUSED'))
  })
}

describe('edge.stop() with downloads in flight', () => {
  let edge: Edge | undefined

  afterAll(async () => {
    await edge?.stop()
  })

  it('lets a download in flight finish with its whole body, and refuses new connections meanwhile', async () => {
    edge = createEdge({ origin: origin.url, port: 0, shutdownGraceMs: 30_000 })
    await edge.start()
    const url = `${edge.url}/drained.bin`
    const slow = download(url)
    await slow.started
    const stopped = edge.stop()
    expect(await refused(url)).toBe(true)
    for (const release of [...held]) release()
    const { body, complete } = await slow.done
    expect(complete).toBe(true)
    expect(body.equals(BODY)).toBe(true)
    await stopped
  })

  it('cuts a download still going when shutdownGraceMs has passed, and says so', async () => {
    const warnings: Array<[string, LogFields | undefined]> = []
    const logger = {
      debug() {},
      info() {},
      error() {},
      warn: (event: string, fields?: LogFields) => warnings.push([event, fields])
    }
    edge = createEdge({ origin: origin.url, port: 0, shutdownGraceMs: 200, logger })
    await edge.start()
    const slow = download(`${edge.url}/cut.bin`)
    await slow.started
    // The origin never sends the rest: only the bound can end this download.
    await edge.stop()
    const { body, complete } = await slow.done
    expect(complete).toBe(false)
    expect(body.length).toBeLessThan(BODY.length)
    expect(warnings).toContainEqual(['downloads-cut', { connections: 1, afterMs: 200 }])
  })
})
