/**
 * `p2pcdn tracker` as a process: tracker/src/main.ts bundled with esbuild (Node cannot run
 * the TypeScript directly) and run with real argv, env and signals.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runNode, type Run } from '../helpers/command.js'
import { selfSignedCert } from '../helpers/tls.js'
import { connectRaw } from '../helpers/tracker-client.js'

let dir: string
let bundle: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2pcdn-tracker-main-'))
  const entry = join(dir, 'entry.ts')
  bundle = join(dir, 'tracker.cjs')
  const mainPath = join(import.meta.dirname, '../../tracker/src/main.ts')
  await writeFile(
    entry,
    `import { main } from ${JSON.stringify(mainPath)}\nvoid main(process.argv.slice(2), process.env)\n`
  )
  // Self-contained CommonJS, ws included, so the bundle runs from a temp dir. ws loads its
  // optional native helpers in a try/catch, so leaving them out is fine.
  await build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['bufferutil', 'utf-8-validate'],
    logLevel: 'silent'
  })
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

function run(args: string[], env: Record<string, string> = {}): Run {
  return runNode([bundle, ...args], env)
}

async function waitFor(check: () => RegExpMatchArray | null, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const match = check()
    if (match !== null) return match
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 25))
  }
}

describe('p2pcdn tracker (main)', () => {
  it('listens where the flags say, logs JSON, and exits 0 on SIGTERM', async () => {
    const proc = run(['--port', '0', '--edge-token', 'from-flag'], { P2PCDN_PORT: '1', P2PCDN_EDGE_TOKEN: 'from-env' })
    const [, url] = await waitFor(() => proc.stderr().match(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))
    const httpUrl = url!.replace('ws:', 'http:')
    expect(await (await fetch(`${httpUrl}/healthz`)).json()).toEqual({ ok: true })

    const listening = proc
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map(line => JSON.parse(line) as Record<string, unknown>)
      .find(line => line.event === 'listening')
    expect(listening).toMatchObject({ level: 'info', name: 'p2pcdn:tracker', url })

    proc.child.kill('SIGTERM')
    expect(await proc.exit).toBe(0)
  })

  it('on SIGTERM stops accepting, closes client sockets with 1001 and exits 0', async () => {
    const regions = join(dir, 'regions.json')
    await writeFile(regions, JSON.stringify({ cidrs: { local: ['127.0.0.0/8'] } }))
    const proc = run(['--port', '0', '--regions', regions])
    const [, url] = await waitFor(() => proc.stderr().match(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))
    const client = await connectRaw(url!)
    client.send({ action: 'announce', info_hash: 'a'.repeat(20), peer_id: 'b'.repeat(20), event: 'started' })
    await client.next(msg => 'interval' in msg)
    // The regions file applied: 127.0.0.1 is in "local".
    const stats = (await (await fetch(`${url!.replace('ws:', 'http:')}/stats`)).json()) as {
      peersByRegion: Record<string, number>
    }
    expect(stats.peersByRegion).toEqual({ local: 1 })

    proc.child.kill('SIGTERM')
    expect(await client.closed).toBe(1001)
    expect(await proc.exit).toBe(0)
    const lines = proc
      .stdout()
      .split('\n')
      .filter(Boolean)
      .map(line => JSON.parse(line) as Record<string, unknown>)
    expect(lines.map(l => l.event)).toEqual(expect.arrayContaining(['listening', 'shutdown', 'stopped']))
  })

  it('exits 2 naming the file when --regions is unreadable or invalid', async () => {
    const bad = join(dir, 'bad-regions.json')
    await writeFile(bad, JSON.stringify({ cidrs: { eu: ['10.0.0.0/99'] } }))
    for (const args of [
      ['--regions', join(dir, 'missing.json')],
      ['--regions', bad]
    ]) {
      const proc = run(args)
      expect(await proc.exit).toBe(2)
      expect(proc.stderr()).toMatch(/p2pcdn tracker: .*(missing\.json|regions)/)
    }
  })

  it('reads --edges-file, and exits 2 naming the problem in it', async () => {
    const good = join(dir, 'edges.json')
    await writeFile(
      good,
      JSON.stringify({ edges: [{ id: 'eu1', urls: ['https://eu1.cdn.example'], secretSha256: 'ab'.repeat(32) }] })
    )
    const proc = run(['--port', '0'], { P2PCDN_EDGES_FILE: good })
    await waitFor(() => proc.stderr().match(/listening on ws:\/\/127\.0\.0\.1:(\d+)/))
    expect(proc.stdout()).not.toContain('edge-registration-disabled')
    proc.child.kill('SIGTERM')
    expect(await proc.exit).toBe(0)

    const badUrl = join(dir, 'edges-bad-url.json')
    await writeFile(
      badUrl,
      JSON.stringify({ edges: [{ id: 'eu1', urls: ['https://eu1.cdn.example/path'], secretSha256: 'ab'.repeat(32) }] })
    )
    const notJson = join(dir, 'edges-not-json.json')
    await writeFile(notJson, '{"edges": [')
    const extra = join(dir, 'edges-extra.json')
    await writeFile(extra, JSON.stringify({ edges: [], token: 'x' }))
    const cases: Array<[string[], RegExp]> = [
      [['--edges-file', badUrl], /"edges\[0\]\.urls\[0\]": expected an http\(s\) origin/],
      [['--edges-file', notJson], /Invalid option "--edges-file": expected a JSON file/],
      [['--edges-file', extra], /unknown field "token"/],
      [
        ['--edges-file', join(dir, 'missing-edges.json')],
        /Invalid option "--edges-file": cannot read ".*missing-edges\.json"/
      ],
      [['--edges-file', good, '--edge-token', 'left-over'], /with "edges" the shared token is refused/],
      [['--edge-challenge', 'maybe'], /Invalid option "--edge-challenge": expected on or off, got "maybe"/]
    ]
    for (const [args, message] of cases) {
      const bad = run(args)
      expect(await bad.exit).toBe(2)
      expect(bad.stderr()).toMatch(message)
    }
  })

  it('takes the port and host from the environment when no flag is given', async () => {
    const proc = run([], { P2PCDN_PORT: '0', P2PCDN_HOST: '127.0.0.1' })
    await waitFor(() => proc.stderr().match(/listening on ws:\/\/127\.0\.0\.1:(\d+)/))
    // No token anywhere: edges are refused, and the log says so.
    expect(proc.stdout()).toContain('edge-registration-disabled')
    proc.child.kill('SIGINT')
    expect(await proc.exit).toBe(0)
  })

  it('serves wss:// with --cert and --key, and exits 2 when one comes without the other', async () => {
    const { cert, key } = await selfSignedCert()
    const certFile = join(dir, 'cert.pem')
    const keyFile = join(dir, 'key.pem')
    await writeFile(certFile, cert)
    await writeFile(keyFile, key)

    const proc = run(['--port', '0', '--cert', certFile], { P2PCDN_KEY: keyFile })
    const [, url] = await waitFor(() => proc.stderr().match(/listening on (wss:\/\/127\.0\.0\.1:\d+)/))
    const client = await connectRaw(url!, { ca: cert })
    client.send({ action: 'announce', info_hash: 'a'.repeat(20), peer_id: 'b'.repeat(20), event: 'started' })
    await client.next(msg => 'interval' in msg)
    proc.child.kill('SIGTERM')
    expect(await proc.exit).toBe(0)

    for (const [args, env] of [
      [['--cert', certFile], {}],
      [[], { P2PCDN_KEY: keyFile }]
    ] as const) {
      const lonely = run([...args], env)
      expect(await lonely.exit).toBe(2)
      expect(lonely.stderr()).toMatch(/p2pcdn tracker: Invalid option "(--cert|P2PCDN_KEY)": expected to come with/)
    }
  })

  it('applies the abuse limits from flags and P2PCDN_* variables, and exits 2 on a bad combination', async () => {
    const proc = run(['--port', '0', '--max-peer-ids-per-ip-per-swarm', '1'], {
      P2PCDN_MESSAGES_PER_SECOND_PER_IP: '1',
      P2PCDN_MESSAGE_BURST_PER_IP: '1'
    })
    const [, url] = await waitFor(() => proc.stderr().match(/listening on (ws:\/\/127\.0\.0\.1:\d+)/))
    const client = await connectRaw(url!)
    const reply = async (peerId: string): Promise<Record<string, unknown>> => {
      client.send({ action: 'announce', info_hash: 'a'.repeat(20), peer_id: peerId, event: 'started' })
      return await client.next()
    }
    expect(await reply('b'.repeat(20))).toHaveProperty('interval')
    // The flag: one peer id per address in this swarm.
    expect(await reply('c'.repeat(20))).toMatchObject({
      'failure reason': 'this address already has 1 peer ids in this swarm',
      action: 'announce'
    })
    // The variables: one message back to back, one more with a warning, then refused.
    expect(await reply('b'.repeat(20))).toMatchObject({
      'failure reason': 'too many messages: at most 1 per second from one address',
      action: 'announce'
    })
    proc.child.kill('SIGTERM')
    expect(await proc.exit).toBe(0)

    const bad = run(['--port', '0', '--max-buffered-bytes', '1024'], { P2PCDN_MAX_BUFFERED_BYTES_TOTAL: '512' })
    expect(await bad.exit).toBe(2)
    expect(bad.stderr()).toMatch(/"maxBufferedBytesTotal": expected at least maxBufferedBytes/)
  })

  it.each([[['--bogus']], [['--message-burst', 'many']], [['--port', 'eighty']], [['--port', '70000']], [['--port']]])(
    'exits 2 with a message for %j',
    async args => {
      const proc = run(args)
      expect(await proc.exit).toBe(2)
      expect(proc.stderr()).toMatch(/p2pcdn tracker: .+\n\nUsage: p2pcdn tracker/)
    }
  )
})
