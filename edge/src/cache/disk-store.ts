/**
 * One file per entry, named by the SHA-256 of its key so no URL can name a path
 * outside the directory. File layout: one line of JSON metadata, `\n`, then the body.
 * Writes go to a temp file that is renamed into place, so a crash never leaves a
 * half entry under a real name.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseManifest, serializeManifest } from '../../../protocol/src/index.js'
import type { Logger } from '../../../protocol/src/index.js'
import type { CacheEntry, CacheStore } from './store.js'

const FORMAT_VERSION = 1
const ENTRY_SUFFIX = '.entry'
const TEMP_MARK = '.tmp-'
const NEWLINE = 0x0a

interface EntryMeta {
  v: number
  key: string
  url: string
  headers: Record<string, string | string[]>
  manifest: string
  size: number
  responseTime: number
  initialAgeS: number
  lifetimeS: number
}

export interface DiskStoreInit {
  dir: string
  logger: Logger
}

export interface DiskStore extends CacheStore {
  /** Create the directory and remove temp files a crash left behind. Returns the number of entries found. */
  open: () => Promise<number>
}

export function fileNameFor (key: string): string {
  return createHash('sha256').update(key).digest('hex') + ENTRY_SUFFIX
}

export function createDiskStore (init: DiskStoreInit): DiskStore {
  const { dir, logger } = init
  const pathFor = (key: string): string => join(dir, fileNameFor(key))

  return {
    async open () {
      await mkdir(dir, { recursive: true })
      let found = 0
      for (const name of await readdir(dir)) {
        if (name.includes(TEMP_MARK)) await unlink(join(dir, name)).catch(() => {})
        else if (name.endsWith(ENTRY_SUFFIX)) found++
      }
      return found
    },
    async get (key) {
      let raw: Buffer
      try {
        raw = await readFile(pathFor(key))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn('disk-read-failed', { key, error: String(err) })
        return undefined
      }
      const entry = decode(raw, key)
      if (entry === undefined) {
        logger.warn('disk-entry-invalid', { key, file: fileNameFor(key) })
        await unlink(pathFor(key)).catch(() => {})
      }
      return entry
    },
    async put (entry) {
      const meta: EntryMeta = {
        v: FORMAT_VERSION,
        key: entry.key,
        url: entry.url,
        headers: entry.headers,
        manifest: serializeManifest(entry.manifest),
        size: entry.body.length,
        responseTime: entry.responseTime,
        initialAgeS: entry.initialAgeS,
        lifetimeS: entry.lifetimeS
      }
      const target = pathFor(entry.key)
      const temp = `${target}${TEMP_MARK}${randomBytes(6).toString('hex')}`
      try {
        await writeFile(temp, [Buffer.from(JSON.stringify(meta) + '\n'), entry.body])
        await rename(temp, target)
      } catch (err) {
        await unlink(temp).catch(() => {})
        throw err
      }
    },
    async delete (key) {
      await unlink(pathFor(key)).catch(() => {})
    },
    async close () {}
  }
}

function decode (raw: Buffer, key: string): CacheEntry | undefined {
  const nl = raw.indexOf(NEWLINE)
  if (nl === -1) return undefined
  try {
    const meta = JSON.parse(raw.subarray(0, nl).toString('utf8')) as EntryMeta
    const body = raw.subarray(nl + 1)
    // The key check guards against a (theoretical) hash collision and a foreign file.
    if (meta.v !== FORMAT_VERSION || meta.key !== key || meta.size !== body.length) return undefined
    const manifest = parseManifest(meta.manifest)
    if (manifest.size !== body.length) return undefined
    return {
      key: meta.key,
      url: meta.url,
      headers: meta.headers,
      body,
      manifest,
      responseTime: meta.responseTime,
      initialAgeS: meta.initialAgeS,
      lifetimeS: meta.lifetimeS
    }
  } catch {
    return undefined
  }
}
