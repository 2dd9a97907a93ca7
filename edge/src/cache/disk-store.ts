/**
 * One file per entry under `dir`, named by the SHA-256 of its id, so no URL can name a
 * path outside the directory. Layout: 4-byte big-endian metadata length, metadata JSON,
 * body. Writes go to a temp file that is renamed into place, so a crash never leaves a
 * half entry under a real name; every read checks the body against the SHA-256 recorded
 * in the metadata, so a file damaged or changed while the edge runs is dropped (and the
 * object refilled) rather than served.
 *
 * The index (id → bytes on disk, in LRU order, `disk-index.ts`) lives in memory and is
 * rebuilt from the files at `open()`; bytes and entries are kept under `maxBytes` and
 * `maxEntries` by unlinking the least recently used. An entry is charged its whole file,
 * at least one filesystem block, so many tiny entries are bounded as well as a few large
 * ones. With `--workers`, every worker reads and writes the folder and the primary holds
 * the one index (`shared`): a worker reads any file it finds, whoever wrote it, and tells
 * the primary what it wrote, read and removed; the primary evicts.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_MANIFEST_BYTES, parseManifest, serializeManifest } from '../../../protocol/src/index.js'
import type { Logger } from '../../../protocol/src/index.js'
import { createDiskIndex } from './disk-index.js'
import type { DiskIndex, DiskIndexItem, DiskIndexRecord } from './disk-index.js'
import type { CacheEntry, CacheStore } from './store.js'
import { entryId } from './store.js'

const FORMAT_VERSION = 3
const ENTRY_SUFFIX = '.entry'
const TEMP_MARK = '.tmp-'
const LENGTH_BYTES = 4
/** Metadata holds headers and a manifest (at most MAX_MANIFEST_BYTES); anything larger is a damaged file. */
const MAX_META_BYTES = MAX_MANIFEST_BYTES + 1024 * 1024
/** The least a file costs on a typical filesystem. */
const MIN_FILE_BYTES = 4096

const fileCost = (bytes: number): number => Math.max(MIN_FILE_BYTES, bytes)

/**
 * The JSON line before the body: the entry without its body, the manifest as its
 * canonical text, and the body's size and hash to detect a damaged file.
 */
type EntryMeta = Omit<CacheEntry, 'body' | 'manifest'> & {
  v: number
  manifest: string | null
  size: number
  sha256: string
}

export type { DiskIndexItem } from './disk-index.js'

export interface DiskStoreInit {
  dir: string
  /** Total bytes kept on disk (whole files). */
  maxBytes: number
  maxEntries: number
  logger: Logger
  /** Called for each entry dropped to make room or refused for its size (not for `delete`). */
  onEvict?: (id: string) => void
  /** The index is another process's (the cluster primary's): `maxBytes` and `maxEntries` are its. */
  shared?: DiskIndex
}

export interface DiskStore extends CacheStore {
  /** Create the directory, remove temp files a crash left, and index every entry. */
  open: () => Promise<DiskIndexItem[]>
  has: (id: string) => boolean
  readonly bytes: number
}

export function fileNameFor(id: string): string {
  return createHash('sha256').update(id).digest('hex') + ENTRY_SUFFIX
}

/**
 * `NAME.entry.tmp-PPPPPPPPRRRRRRRRRRRR`: the writer's pid in 8 hex digits, then random
 * ones, so a crashed writer's leftovers can be told from a live one's.
 */
function tempNameFor(target: string): string {
  return `${target}${TEMP_MARK}${process.pid.toString(16).padStart(8, '0')}${randomBytes(6).toString('hex')}`
}

/** The pid that wrote a temp file, from its name; undefined for a name of another form. */
export function tempWriterOf(name: string): number | undefined {
  const at = name.indexOf(TEMP_MARK)
  if (at === -1) return undefined
  const hex = name.slice(at + TEMP_MARK.length, at + TEMP_MARK.length + 8)
  return /^[0-9a-f]{8}$/.test(hex) ? parseInt(hex, 16) : undefined
}

/** Remove the temp files of `pid` (a writer that died mid-write), or of every writer when undefined. */
export async function removeTempFiles(dir: string, pid?: number): Promise<number> {
  let n = 0
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.includes(TEMP_MARK)) continue
    if (pid !== undefined && tempWriterOf(name) !== pid) continue
    await unlink(join(dir, name)).then(
      () => n++,
      () => {}
    )
  }
  return n
}

/**
 * Index every entry under `dir`: temp files a crash left and damaged entries are removed.
 * Only one process may do this at a time, before any writer starts (it removes every temp file).
 */
export async function scanDiskDir(dir: string, logger: Logger): Promise<DiskIndexRecord[]> {
  await mkdir(dir, { recursive: true })
  const found: Array<DiskIndexRecord & { mtimeMs: number }> = []
  for (const name of await readdir(dir)) {
    const file = join(dir, name)
    if (name.includes(TEMP_MARK)) {
      await unlink(file).catch(() => {})
      continue
    }
    if (!name.endsWith(ENTRY_SUFFIX)) continue
    const meta = await readMeta(file)
    if (meta === undefined || fileNameFor(entryId(meta.key, meta.variant)) !== name) {
      logger.warn('disk-entry-invalid', { file: name })
      await unlink(file).catch(() => {})
      continue
    }
    const info = await stat(file)
    found.push({
      id: entryId(meta.key, meta.variant),
      key: meta.key,
      variant: meta.variant,
      vary: meta.vary,
      cost: fileCost(info.size),
      mtimeMs: info.mtimeMs
    })
  }
  // Oldest write first: the best LRU guess without access times.
  found.sort((a, b) => a.mtimeMs - b.mtimeMs)
  return found.map(({ id, key, variant, vary, cost }) => ({ id, key, variant, vary, cost }))
}

/** The in-process index of a disk store: scans at `open()` and evicts by unlinking. */
export function createLocalDiskIndex(init: Omit<DiskStoreInit, 'shared'>): DiskIndex {
  const pathFor = (id: string): string => join(init.dir, fileNameFor(id))
  return createDiskIndex({
    maxBytes: init.maxBytes,
    maxEntries: init.maxEntries,
    scan: async () => await scanDiskDir(init.dir, init.logger),
    unlink: async id => await unlink(pathFor(id)).catch(() => {}),
    onEvict: init.onEvict
  })
}

export function createDiskStore(init: DiskStoreInit): DiskStore {
  const { dir, logger } = init
  const pathFor = (id: string): string => join(dir, fileNameFor(id))
  const index = init.shared ?? createLocalDiskIndex(init)

  const drop = async (id: string): Promise<void> => {
    await unlink(pathFor(id)).catch(() => {})
    index.removed(id)
  }

  return {
    get bytes() {
      return index.bytes
    },
    has: id => index.has(id),
    async open() {
      return await index.open()
    },
    async get(id) {
      if (!index.has(id)) return undefined
      let raw: Buffer
      try {
        raw = await readFile(pathFor(id))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          logger.warn('disk-read-failed', { id, error: String(err) })
        index.missing(id)
        return undefined
      }
      const entry = decode(raw, id)
      if (entry === undefined) {
        logger.warn('disk-entry-invalid', { id, file: fileNameFor(id) })
        await drop(id)
        return undefined
      }
      index.touched(id, { key: entry.key, variant: entry.variant, vary: entry.vary, cost: fileCost(raw.length) })
      return entry
    },
    async put(entry) {
      const id = entryId(entry.key, entry.variant)
      if (entry.body.length > init.maxBytes) {
        init.onEvict?.(id)
        return
      }
      const meta: EntryMeta = {
        v: FORMAT_VERSION,
        key: entry.key,
        variant: entry.variant,
        vary: entry.vary,
        url: entry.url,
        status: entry.status,
        headers: entry.headers,
        manifest: entry.manifest === undefined ? null : serializeManifest(entry.manifest),
        size: entry.body.length,
        sha256: createHash('sha256').update(entry.body).digest('hex'),
        responseTime: entry.responseTime,
        initialAgeS: entry.initialAgeS,
        lifetimeS: entry.lifetimeS,
        heuristic: entry.heuristic,
        noCache: entry.noCache,
        mustRevalidate: entry.mustRevalidate,
        staleWhileRevalidateS: entry.staleWhileRevalidateS,
        staleIfErrorS: entry.staleIfErrorS,
        shared: entry.shared,
        dropFields: entry.dropFields
      }
      const json = Buffer.from(JSON.stringify(meta))
      const length = Buffer.alloc(LENGTH_BYTES)
      length.writeUInt32BE(json.length)
      const target = pathFor(id)
      // rename() is atomic between processes too: a reader gets the old file or the new one.
      const temp = tempNameFor(target)
      try {
        await writeFile(temp, [length, json, entry.body])
        await rename(temp, target)
      } catch (err) {
        await unlink(temp).catch(() => {})
        throw err
      }
      await index.added({
        id,
        key: entry.key,
        variant: entry.variant,
        vary: entry.vary,
        cost: fileCost(LENGTH_BYTES + json.length + entry.body.length)
      })
    },
    async delete(id) {
      await drop(id)
    },
    async close() {}
  }
}

async function readMeta(file: string): Promise<EntryMeta | undefined> {
  const handle = await open(file, 'r').catch(() => undefined)
  if (handle === undefined) return undefined
  try {
    const head = Buffer.alloc(LENGTH_BYTES)
    const { bytesRead } = await handle.read(head, 0, LENGTH_BYTES, 0)
    if (bytesRead !== LENGTH_BYTES) return undefined
    const length = head.readUInt32BE(0)
    if (length > MAX_META_BYTES) return undefined
    const json = Buffer.alloc(length)
    const read = await handle.read(json, 0, length, LENGTH_BYTES)
    if (read.bytesRead !== length) return undefined
    const meta = JSON.parse(json.toString('utf8')) as EntryMeta
    const info = await handle.stat()
    if (meta.v !== FORMAT_VERSION || info.size !== LENGTH_BYTES + length + meta.size) return undefined
    return meta
  } catch {
    return undefined
  } finally {
    await handle.close()
  }
}

function decode(raw: Buffer, id: string): CacheEntry | undefined {
  if (raw.length < LENGTH_BYTES) return undefined
  const length = raw.readUInt32BE(0)
  if (length > MAX_META_BYTES || raw.length < LENGTH_BYTES + length) return undefined
  try {
    const meta = JSON.parse(raw.subarray(LENGTH_BYTES, LENGTH_BYTES + length).toString('utf8')) as EntryMeta
    const body = raw.subarray(LENGTH_BYTES + length)
    // The id check guards against a (theoretical) hash collision and a foreign file;
    // the hash against a body that is not the one the metadata describes.
    if (meta.v !== FORMAT_VERSION || entryId(meta.key, meta.variant) !== id || meta.size !== body.length)
      return undefined
    if (createHash('sha256').update(body).digest('hex') !== meta.sha256) return undefined
    const manifest = meta.manifest === null ? undefined : parseManifest(meta.manifest)
    if (manifest !== undefined && manifest.size !== body.length) return undefined
    return {
      key: meta.key,
      variant: meta.variant,
      vary: meta.vary,
      url: meta.url,
      status: meta.status,
      headers: meta.headers,
      body,
      manifest,
      responseTime: meta.responseTime,
      initialAgeS: meta.initialAgeS,
      lifetimeS: meta.lifetimeS,
      heuristic: meta.heuristic,
      noCache: meta.noCache,
      mustRevalidate: meta.mustRevalidate,
      staleWhileRevalidateS: meta.staleWhileRevalidateS,
      staleIfErrorS: meta.staleIfErrorS,
      shared: meta.shared,
      dropFields: meta.dropFields
    }
  } catch {
    return undefined
  }
}
