/**
 * One file per entry under `dir`, named by the SHA-256 of its id, so no URL can name a
 * path outside the directory. Layout: 4-byte big-endian metadata length, metadata JSON,
 * body. Writes go to a temp file that is renamed into place, so a crash never leaves a
 * half entry under a real name; every read checks the body against the SHA-256 recorded
 * in the metadata, so a file damaged or changed while the edge runs is dropped (and the
 * object refilled) rather than served.
 *
 * The index (id → bytes on disk, in LRU order) lives in memory and is rebuilt from the
 * files at `open()`; bytes and entries are kept under `maxBytes` and `maxEntries` by
 * unlinking the least recently used. An entry is charged its whole file, at least one
 * filesystem block, so many tiny entries are bounded as well as a few large ones.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_MANIFEST_BYTES, parseManifest, serializeManifest } from '../../../protocol/src/index.js'
import type { Logger } from '../../../protocol/src/index.js'
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

/** What `open()` found for one entry: enough to rebuild the key → variants index. */
export interface DiskIndexItem {
  key: string
  variant: string
  vary: string[]
}

export interface DiskStoreInit {
  dir: string
  /** Total bytes kept on disk (whole files). */
  maxBytes: number
  maxEntries: number
  logger: Logger
  /** Called for each entry dropped to make room or refused for its size (not for `delete`). */
  onEvict?: (id: string) => void
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

export function createDiskStore(init: DiskStoreInit): DiskStore {
  const { dir, logger } = init
  const pathFor = (id: string): string => join(dir, fileNameFor(id))
  // id → bytes charged, in least-recently-used-first order.
  const index = new Map<string, number>()
  let bytes = 0

  const forget = (id: string): boolean => {
    const size = index.get(id)
    if (size === undefined) return false
    index.delete(id)
    bytes -= size
    return true
  }
  const drop = async (id: string): Promise<void> => {
    forget(id)
    await unlink(pathFor(id)).catch(() => {})
  }
  const evict = async (): Promise<void> => {
    for (const [id] of index) {
      if (bytes <= init.maxBytes && index.size <= init.maxEntries) break
      await drop(id)
      init.onEvict?.(id)
    }
  }

  return {
    get bytes() {
      return bytes
    },
    has: id => index.has(id),
    async open() {
      await mkdir(dir, { recursive: true })
      const found: Array<DiskIndexItem & { id: string; size: number; mtimeMs: number }> = []
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
          size: fileCost(info.size),
          mtimeMs: info.mtimeMs
        })
      }
      // Oldest write first: the best LRU guess without access times.
      found.sort((a, b) => a.mtimeMs - b.mtimeMs)
      for (const item of found) {
        index.set(item.id, item.size)
        bytes += item.size
      }
      await evict()
      return found.filter(item => index.has(item.id)).map(({ key, variant, vary }) => ({ key, variant, vary }))
    },
    async get(id) {
      if (!index.has(id)) return undefined
      let raw: Buffer
      try {
        raw = await readFile(pathFor(id))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
          logger.warn('disk-read-failed', { id, error: String(err) })
        forget(id)
        return undefined
      }
      const entry = decode(raw, id)
      if (entry === undefined) {
        logger.warn('disk-entry-invalid', { id, file: fileNameFor(id) })
        await drop(id)
        return undefined
      }
      const size = index.get(id)
      if (size !== undefined) {
        index.delete(id)
        index.set(id, size)
      }
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
      const temp = `${target}${TEMP_MARK}${randomBytes(6).toString('hex')}`
      try {
        await writeFile(temp, [length, json, entry.body])
        await rename(temp, target)
      } catch (err) {
        await unlink(temp).catch(() => {})
        throw err
      }
      forget(id)
      const cost = fileCost(LENGTH_BYTES + json.length + entry.body.length)
      index.set(id, cost)
      bytes += cost
      await evict()
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
