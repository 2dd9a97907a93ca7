/**
 * `/p2pcdn.js`, `/p2pcdn-sw.js` and their source maps, read from disk beside the
 * configured SDK on each request so a rebuild shows up at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readFile, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { noneMatch } from '../range.js'
import type { HandlerContext } from './context.js'
import { send } from './reply.js'

/** Short, so a new SDK build reaches pages quickly; the ETag makes rechecks cheap. */
const SDK_CACHE_CONTROL = 'public, max-age=300'

export async function serveSdk(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  file: string
): Promise<void> {
  const map = file.endsWith('.map')
  // The SDK itself may have been configured under another name.
  const path =
    file === 'p2pcdn.js'
      ? ctx.config.sdkPath
      : file === 'p2pcdn.js.map'
        ? `${ctx.config.sdkPath}.map`
        : join(dirname(ctx.config.sdkPath), file)
  let body: Buffer
  let etag: string
  try {
    const info = await stat(path)
    etag = `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`
    body = await readFile(path)
  } catch {
    if (map)
      send(
        ctx,
        res,
        404,
        { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
        'no source map\n'
      )
    else
      send(
        ctx,
        res,
        503,
        { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
        'SDK not built: run npm run build\n'
      )
    return
  }
  const headers = {
    'content-type': map ? 'application/json; charset=utf-8' : 'text/javascript; charset=utf-8',
    'cache-control': SDK_CACHE_CONTROL,
    etag
  }
  if (noneMatch(req.headers['if-none-match'], etag)) {
    send(ctx, res, 304, headers)
    return
  }
  send(ctx, res, 200, headers, body, req.method === 'HEAD')
}
