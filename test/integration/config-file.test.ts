/**
 * `p2pcdn tracker --config FILE` and `p2pcdn edge --config FILE` as processes: the real
 * command line (cli/p2pcdn.ts under tsx), a tracker and an edge configured by their files,
 * a flag and a variable winning over the file, and the errors an operator sees.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runNode, waitForStderr, type Run } from '../helpers/command.js'
import { startOrigin } from '../helpers/origin.js'
import type { TestOrigin } from '../helpers/origin.js'

const CLI = join(import.meta.dirname, '..', '..', 'cli', 'p2pcdn.ts')
const TOKEN = 'edge-token-from-the-file'

let dir: string
let origin: TestOrigin
/** Every process started, so a failed test leaves none running. */
const children = new Set<Run['child']>()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2pcdn-config-file-'))
  origin = await startOrigin({ '/hello.txt': { body: 'hello', headers: { 'Cache-Control': 'max-age=60' } } })
})

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await origin.close()
  await rm(dir, { recursive: true, force: true })
})

function run(args: string[], env: Record<string, string> = {}): Run {
  const proc = runNode(['--import', 'tsx', CLI, ...args], env)
  children.add(proc.child)
  return proc
}

async function configFile(name: string, contents: unknown, mode = 0o600): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, JSON.stringify(contents))
  await chmod(path, mode)
  return path
}

function logLines(proc: Run): Array<Record<string, unknown>> {
  return proc
    .stdout()
    .split('\n')
    .filter(Boolean)
    .map(line => JSON.parse(line) as Record<string, unknown>)
}

describe('--config', () => {
  it('starts a tracker and an edge from their files, flags and variables winning over them', async () => {
    // Readable by all, with the token in it: the tracker runs and warns.
    const trackerConfig = await configFile(
      'tracker.json',
      { port: 1, edgeToken: TOKEN, maxConnectionsPerIp: 100 },
      0o644
    )
    const tracker = run(['tracker', '--config', trackerConfig, '--port', '0'])
    const edge = await (async () => {
      try {
        const [, trackerUrl, trackerPort] = await waitForStderr(tracker, /listening on (ws:\/\/127\.0\.0\.1:(\d+))/)
        // The flag's port, not the file's.
        expect(trackerPort).not.toBe('1')
        expect(logLines(tracker).find(l => l.event === 'config-readable-by-all')).toMatchObject({
          level: 'warn',
          file: trackerConfig,
          secrets: 'edgeToken'
        })

        const edgeConfig = await configFile('edge.json', {
          origin: origin.url,
          port: 1,
          region: 'eu',
          tracker: trackerUrl,
          edgeToken: TOKEN,
          accessLog: 'off'
        })
        // P2PCDN_CONFIG names the file; P2PCDN_REGION wins over its "region".
        return run(['edge', '--port', '0'], { P2PCDN_CONFIG: edgeConfig, P2PCDN_REGION: 'us' })
      } catch (err) {
        tracker.child.kill('SIGTERM')
        throw err
      }
    })()
    try {
      const [, edgeUrl, edgePort] = await waitForStderr(edge, /listening on (http:\/\/127\.0\.0\.1:(\d+))/)
      expect(edgePort).not.toBe('1')
      // The file's origin: the edge serves it.
      expect(await (await fetch(`${edgeUrl}/hello.txt`)).text()).toBe('hello')
      // The file's token registered the edge with the file's tracker, in the variable's region.
      const trackerHttp = tracker.stderr().match(/\(HTTP (http:\/\/[^)]+)\)/)![1]!
      const registered = async (): Promise<unknown[]> => {
        const body = (await (await fetch(`${trackerHttp}/edges?region=us`)).json()) as { edges: unknown[] }
        return body.edges
      }
      await expect
        .poll(registered, { timeout: 10_000 })
        .toEqual([expect.objectContaining({ url: edgeUrl, region: 'us' })])
      // 0600 with secrets in it: no warning.
      expect(logLines(edge).map(l => l.event)).not.toContain('config-readable-by-all')
    } finally {
      edge.child.kill('SIGTERM')
      tracker.child.kill('SIGTERM')
    }
    expect(await edge.exit).toBe(0)
    expect(await tracker.exit).toBe(0)
  })

  it('refuses an unknown key by its name, with the nearest key, and exits 2', async () => {
    const tracker = run(['tracker', '--config', await configFile('typo-tracker.json', { edgeTokn: TOKEN })])
    expect(await tracker.exit).toBe(2)
    expect(tracker.stderr()).toContain(
      `p2pcdn tracker: config ${join(dir, 'typo-tracker.json')}: unknown key "edgeTokn" (did you mean "edgeToken"?)`
    )
    const edge = run(['edge', '--config', await configFile('typo-edge.json', { origin: origin.url, maxEntrys: 5 })])
    expect(await edge.exit).toBe(2)
    expect(edge.stderr()).toContain('unknown key "maxEntrys" (did you mean "maxEntries"?)')
  })

  it('exits 2 naming the file and the key for a wrong type, a missing file or one that is not JSON', async () => {
    const notJson = join(dir, 'not-json.json')
    await writeFile(notJson, '{"port": ')
    const cases: Array<[string[], string | RegExp]> = [
      [
        ['tracker', '--config', await configFile('string-port.json', { port: '8000' })],
        /config .*string-port\.json: "port": expected an integer from 0 to 65535, got "8000"/
      ],
      [
        ['edge', '--config', await configFile('bool-log.json', { origin: origin.url, accessLog: false })],
        /config .*bool-log\.json: "accessLog": expected on or off, got false/
      ],
      [['tracker', '--config', join(dir, 'missing.json')], /config .*missing\.json: cannot read it: ENOENT/],
      [['tracker', '--config', notJson], /config .*not-json\.json: not valid JSON/]
    ]
    for (const [args, message] of cases) {
      const proc = run(args)
      expect(await proc.exit).toBe(2)
      expect(proc.stderr()).toMatch(message)
    }
  })
})
