/**
 * `p2pcdn manifest FILE`: print the manifest the edge would build for a local file;
 * with `--sign KEY` a signed sidecar for the origin (`URL + manifestSuffix`).
 */
import { createReadStream } from 'node:fs'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { manifestLimitProblem, serializeSignedManifest, errorMessageOf } from '../../protocol/src/index.js'
import type { Manifest } from '../../protocol/src/index.js'
import { resolveConfig } from './config.js'
import { createManifestBuilder } from './manifest-builder.js'
import { createManifestSigner, type ManifestSigner } from './manifest-signer.js'

const USAGE = `Usage: p2pcdn manifest FILE [--chunk-size BYTES] [--url URL] [--type TYPE] [--etag ETAG] [--sign KEY ...] [--out FILE]

  --chunk-size BYTES  bytes per chunk [262144]
  --url URL           URL recorded in the manifest: the URL pages fetch [file:// URL of FILE]
  --type TYPE         Content-Type recorded [guessed from the extension]
  --etag ETAG         validator recorded ['']
  --sign KEY          sign with this Ed25519 private key (PEM, from p2pcdn keygen); repeat
                      for several keys (rotation); needs --url
  --out FILE          write the manifest here (e.g. video.mp4.p2pcdn.json) [stdout]`

/** The few types a CDN demo serves; anything else is application/octet-stream. */
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
  '.mp3': 'audio/mpeg',
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.m4s': 'video/iso.segment',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream'
}

/** @param argv the arguments after `p2pcdn manifest` */
export async function manifestMain(argv: string[]): Promise<void> {
  let file: string
  let init: { url: string; type: string; etag: string; chunkSize: number }
  let signers: ManifestSigner[]
  let out: string | undefined
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'chunk-size': { type: 'string' },
        url: { type: 'string' },
        type: { type: 'string' },
        etag: { type: 'string' },
        sign: { type: 'string', multiple: true },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
    if (values.help === true) {
      process.stdout.write(USAGE + '\n')
      return
    }
    if (positionals.length !== 1 || positionals[0] === undefined) throw new Error('expected exactly one FILE')
    file = resolve(positionals[0])
    const chunkText = values['chunk-size']
    const chunkSize = chunkText === undefined ? undefined : Number(chunkText)
    if (chunkText !== undefined && !/^\d+$/.test(chunkText))
      throw new Error(`--chunk-size: expected bytes, got "${chunkText}"`)
    // resolveConfig validates chunkSize the way the edge does.
    init = {
      url: values.url ?? pathToFileURL(file).href,
      type: values.type ?? TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      etag: values.etag ?? '',
      chunkSize: resolveConfig({ origin: 'http://localhost', chunkSize, sdkPath: '-' }).chunkSize
    }
    // Refused before reading a byte: the SDK and the edge would refuse this manifest too.
    const problem = manifestLimitProblem({ ...init, size: (await stat(file)).size })
    if (problem !== undefined) throw new Error(`${positionals[0]}: no manifest within the bounds: ${problem}`)
    const keys = values.sign ?? []
    // A signature binds the URL; the SDK refuses a signed manifest of any other URL.
    if (keys.length > 0 && values.url === undefined)
      throw new Error('--sign needs --url: the URL pages fetch the resource at')
    signers = await Promise.all(keys.map(async k => await createManifestSigner(await readFile(k), `--sign ${k}`)))
    out = values.out
  } catch (err) {
    process.stderr.write(`p2pcdn manifest: ${errorMessageOf(err)}\n\n${USAGE}\n`)
    process.exitCode = 2
    return
  }
  const manifest = await manifestOfFile(file, init)
  const text =
    serializeSignedManifest(
      manifest,
      signers.map(s => s.sign(manifest))
    ) + '\n'
  if (out === undefined) process.stdout.write(text)
  else await writeFile(out, text)
}

export async function manifestOfFile(
  file: string,
  init: { url: string; type: string; etag: string; chunkSize: number }
): Promise<Manifest> {
  const builder = createManifestBuilder(init)
  for await (const chunk of createReadStream(file)) builder.push(chunk as Buffer)
  const manifest = builder.finish()
  // The file grew past the bounds while it was read.
  if (manifest === undefined) throw new Error(`${file}: no manifest within the bounds: ${builder.refused ?? ''}`)
  return manifest
}
