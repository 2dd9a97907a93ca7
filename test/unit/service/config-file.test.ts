/** `--config FILE`: what the file may hold, how it ranks against flags and variables, and its errors. */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { nearest, readConfigFile } from '../../../service/src/config-file.js'
import { ConfigFileError, FlagReader, configKey } from '../../../service/src/options.js'

const FLAGS = ['port', 'host', 'edge-token', 'max-entries', 'trust-proxy', 'access-log', 'cache-key-headers', 'regions']

let dir: string
let n = 0

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2pcdn-config-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** Write `contents` (JSON unless a string) to a new file in the temp dir, 0600 unless `mode` says. */
async function file(contents: unknown, mode = 0o600): Promise<string> {
  const path = join(dir, `config-${n++}.json`)
  await writeFile(path, typeof contents === 'string' ? contents : JSON.stringify(contents))
  await chmod(path, mode)
  return path
}

/** A call that reads `contents` as a config file of `FLAGS`, for `toThrow`. */
async function reading(contents: unknown): Promise<() => unknown> {
  const path = await file(contents)
  return () => readConfigFile(path, FLAGS)
}

async function reader(
  contents: unknown,
  values: Record<string, string | boolean> = {},
  env: NodeJS.ProcessEnv = {}
): Promise<FlagReader> {
  return new FlagReader(values, env, readConfigFile(await file(contents), FLAGS))
}

describe('config file keys', () => {
  it('are the flags in camelCase', () => {
    expect(configKey('edge-token')).toBe('edgeToken')
    expect(configKey('max-peer-ids-per-ip-per-swarm')).toBe('maxPeerIdsPerIpPerSwarm')
    expect(configKey('redis')).toBe('redis')
  })
})

describe('precedence', () => {
  it('takes the flag over the variable over the file, and the file over the default', async () => {
    const contents = { port: 1, host: '10.0.0.1', edgeToken: 'from-file', maxEntries: 5 }
    const flags = await reader(contents, { port: '3' }, { P2PCDN_PORT: '2', P2PCDN_HOST: '10.0.0.2' })
    expect(flags.port('port', 'P2PCDN_PORT')).toBe(3)
    expect(flags.string('host', 'P2PCDN_HOST')).toBe('10.0.0.2')
    expect(flags.string('edge-token', 'P2PCDN_EDGE_TOKEN')).toBe('from-file')
    expect(flags.integer('max-entries', 'P2PCDN_MAX_ENTRIES')).toBe(5)
    // Not in the file, no flag, no variable: the service's default applies.
    expect((await reader({})).port('port', 'P2PCDN_PORT')).toBeUndefined()
  })

  it('lets a variable exported empty fall through to the file', async () => {
    const flags = await reader({ edgeToken: 'from-file' }, {}, { P2PCDN_EDGE_TOKEN: '' })
    expect(flags.string('edge-token', 'P2PCDN_EDGE_TOKEN')).toBe('from-file')
  })

  it('lets a variable switch off what the file switches on', async () => {
    const flags = await reader({ trustProxy: true }, {}, { P2PCDN_TRUST_PROXY: '0' })
    expect(flags.boolean('trust-proxy', 'P2PCDN_TRUST_PROXY')).toBe(false)
    expect((await reader({ trustProxy: true })).boolean('trust-proxy', 'P2PCDN_TRUST_PROXY')).toBe(true)
    expect((await reader({ trustProxy: true }, { 'trust-proxy': true })).boolean('trust-proxy', 'X')).toBe(true)
  })
})

describe('typed values', () => {
  it('reads lists as arrays, choices as their words, and paths relative to the file', async () => {
    await mkdir(join(dir, 'etc'), { recursive: true })
    await writeFile(join(dir, 'etc', 'regions.json'), '{"cidrs": {}}')
    const path = join(dir, 'etc', 'tracker.json')
    await writeFile(
      path,
      JSON.stringify({ cacheKeyHeaders: ['Accept-Language'], accessLog: 'off', regions: 'regions.json' })
    )
    const flags = new FlagReader({}, {}, readConfigFile(path, FLAGS))
    expect(flags.list('cache-key-headers', 'P2PCDN_CACHE_KEY_HEADERS')).toEqual(['Accept-Language'])
    expect(flags.choice('access-log', 'P2PCDN_ACCESS_LOG', ['on', 'off'])).toBe('off')
    expect(flags.path('regions', 'P2PCDN_REGIONS')).toBe(join(dir, 'etc', 'regions.json'))
    expect(flags.jsonFile('regions', 'P2PCDN_REGIONS')).toEqual({ cidrs: {} })
    // The same from a flag: split at commas, relative to the working directory.
    expect(new FlagReader({ 'cache-key-headers': 'a, b' }, {}).list('cache-key-headers', 'X')).toEqual(['a', 'b'])
  })

  it('refuses a wrong type naming the file, the key and the type expected', async () => {
    const cases: Array<[Record<string, unknown>, (f: FlagReader) => unknown, RegExp]> = [
      [
        { port: '8000' },
        f => f.port('port', 'P2PCDN_PORT'),
        /"port": expected an integer from 0 to 65535, got "8000"$/
      ],
      [{ port: 70_000 }, f => f.port('port', 'P2PCDN_PORT'), /"port": expected an integer from 0 to 65535, got 70000$/],
      [{ maxEntries: 1.5 }, f => f.integer('max-entries', 'X'), /"maxEntries": expected a positive integer, got 1.5$/],
      [{ maxEntries: 0 }, f => f.integer('max-entries', 'X'), /"maxEntries": expected a positive integer, got 0$/],
      [{ trustProxy: 'yes' }, f => f.boolean('trust-proxy', 'X'), /"trustProxy": expected true or false, got "yes"$/],
      [
        { accessLog: true },
        f => f.choice('access-log', 'X', ['on', 'off']),
        /"accessLog": expected on or off, got true$/
      ],
      [
        { cacheKeyHeaders: 'a,b' },
        f => f.list('cache-key-headers', 'X'),
        /expected an array of strings, got a string$/
      ],
      [{ host: null }, f => f.string('host', 'X'), /"host": expected a non-empty string, got null$/],
      [{ regions: 7 }, f => f.path('regions', 'X'), /"regions": expected a path, got a number$/]
    ]
    for (const [contents, read, message] of cases) {
      const flags = await reader(contents)
      expect(() => read(flags)).toThrow(ConfigFileError)
      expect(() => read(flags)).toThrow(/^config .*config-\d+\.json: /)
      expect(() => read(flags)).toThrow(message)
    }
  })

  it('never echoes a secret given with the wrong type', async () => {
    const flags = await reader({ edgeToken: ['hunter2-hunter2'] })
    expect(() => flags.string('edge-token', 'P2PCDN_EDGE_TOKEN')).toThrow(
      /"edgeToken": expected a non-empty string, got an array$/
    )
  })

  it('names the file and the key when a file it names cannot be read or parsed', async () => {
    const missing = await reader({ regions: 'nowhere.json' })
    expect(() => missing.jsonFile('regions', 'P2PCDN_REGIONS')).toThrow(
      /"regions": cannot read ".*nowhere\.json": ENOENT/
    )
    await writeFile(join(dir, 'broken.json'), '{')
    const broken = await reader({ regions: 'broken.json' })
    expect(() => broken.jsonFile('regions', 'P2PCDN_REGIONS')).toThrow(/"regions": expected a JSON file$/)
  })
})

describe('readConfigFile', () => {
  it('refuses an unknown key by name and suggests the nearest', async () => {
    const path = await file({ port: 1, edgeTokn: 'x' })
    expect(() => readConfigFile(path, FLAGS)).toThrow(
      `config ${path}: unknown key "edgeTokn" (did you mean "edgeToken"?)`
    )
    // The flag's spelling is not the key: one way only, and the message shows the other.
    expect(await reading({ 'edge-token': 'x' })).toThrow(/unknown key "edge-token" \(did you mean "edgeToken"\?\)/)
    expect(await reading({ colour: 'x' })).toThrow(/unknown key "colour"$/)
  })

  it('says what is wrong with a file that is missing, not JSON, or not an object', async () => {
    expect(() => readConfigFile(join(dir, 'missing.json'), FLAGS)).toThrow(
      new RegExp(`^config ${dir}/missing\\.json: cannot read it: ENOENT`)
    )
    expect(() => readConfigFile(dir, FLAGS)).toThrow(/cannot read it: not a regular file/)
    expect(await reading('{"port": 1,}')).toThrow(/: not valid JSON: /)
    expect(await reading('[1]')).toThrow(/: expected a JSON object of options/)
    expect(await reading('null')).toThrow(/: expected a JSON object of options/)
  })

  it('lists the secrets of a file anyone may read, so the service can warn', async () => {
    const secrets = ['edge-token']
    expect(readConfigFile(await file({ edgeToken: 'x' }, 0o644), FLAGS, secrets).exposedSecrets).toEqual(['edgeToken'])
    expect(readConfigFile(await file({ edgeToken: 'x' }, 0o640), FLAGS, secrets).exposedSecrets).toEqual([])
    expect(readConfigFile(await file({ port: 1 }, 0o644), FLAGS, secrets).exposedSecrets).toEqual([])
  })
})

describe('nearest', () => {
  it('suggests only a likely typo', () => {
    expect(nearest('maxEntires', ['maxEntries', 'maxConnections'])).toBe('maxEntries')
    expect(nearest('PORT', ['port', 'host'])).toBe('port')
    expect(nearest('colour', ['port', 'host'])).toBeUndefined()
  })
})
