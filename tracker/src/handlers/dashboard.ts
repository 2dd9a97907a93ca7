/**
 * `/dashboard` (the page) and `/dashboard.json` (what it polls): the fleet's figures as
 * the SDKs reported them, summed over this process or, with `--redis`, every live one,
 * with the edges and their load. Off unless `dashboardToken` is set, and then only for
 * requests that carry it: the figures name the operator's URLs and show its traffic.
 */
import { createHash } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { EdgeInfo } from '../../../protocol/src/index.js'
import { errorMessageOf } from '../../../protocol/src/index.js'
import { secretEquals } from '../../../service/src/secret.js'
import { mergeSnapshots } from '../fleet-stats.js'
import type { FleetSnapshot } from '../fleet-stats.js'
import { DASHBOARD_HTML } from '../dashboard-page.js'
import type { TrackerContext } from './context.js'
import { listEdges } from './edges.js'
import { Page, sendJson } from './http-reply.js'

/** Body of `GET /dashboard.json`. */
export interface DashboardData {
  /** The fleet's figures: self-reported by browsers, clamped by the tracker. */
  fleet: FleetSnapshot
  /** Tracker processes whose figures are summed in `fleet` (1 without `--redis`). */
  nodes: number
  /** Processes whose stored figures could not be read (skipped). */
  unreadableNodes: number
  edges: EdgeInfo[]
  /** Peers and swarms of this process. */
  peers: number
  swarms: number
}

type DashboardRoute = (ctx: TrackerContext) => Promise<unknown>

/**
 * The page runs its own inline script and style and talks to this tracker only: a CSP by
 * the script's hash says so, so that nothing a visitor reported (a URL, a region name)
 * could run as script even if it got past the page's escaping, and no other site may frame it.
 */
const PAGE = new Page(DASHBOARD_HTML, {
  'content-security-policy': `default-src 'none'; script-src 'sha256-${inlineScriptHash(DASHBOARD_HTML)}'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer'
})

function inlineScriptHash(html: string): string {
  const m = /<script>([\s\S]*?)<\/script>/.exec(html)
  if (m === null) throw new Error('the dashboard page has no inline script')
  return createHash('sha256').update(m[1]!, 'utf8').digest('base64')
}

export const DASHBOARD_ROUTES: ReadonlyMap<string, DashboardRoute> = new Map<string, DashboardRoute>([
  ['/dashboard', () => Promise.resolve(PAGE)],
  ['/dashboard.json', dashboardData]
])

async function dashboardData(ctx: TrackerContext): Promise<DashboardData> {
  const own = ctx.fleet.snapshot()
  let snapshots = [own]
  let unreadable = 0
  if (ctx.cluster !== undefined) {
    try {
      const others = await ctx.cluster.fleet()
      unreadable = others.unreadable
      snapshots = [own, ...others.snapshots]
    } catch (err) {
      // Redis away: this process's figures are still worth showing.
      ctx.log.http.warn('fleet-read-failed', { error: errorMessageOf(err) })
    }
  }
  return {
    fleet: mergeSnapshots(snapshots, ctx.now()),
    nodes: snapshots.length,
    unreadableNodes: unreadable,
    edges: await listEdges(ctx, undefined),
    peers: ctx.swarms.stats().peers,
    swarms: ctx.swarms.size
  }
}

/**
 * Whether the request may see the dashboard; if not, the answer (404 when it is off, 401
 * asking for Basic credentials otherwise) is sent. The token is accepted as the password
 * of HTTP Basic (any user name: the browser asks once and sends it with every poll) or as
 * a bearer token (for scripts).
 */
export function dashboardAccess(ctx: TrackerContext, req: IncomingMessage, res: ServerResponse): boolean {
  const token = ctx.config.dashboardToken
  if (token === undefined) {
    sendJson(res, 404, { error: 'the dashboard is off: start the tracker with --dashboard-token' })
    return false
  }
  const given = presentedToken(req.headers.authorization)
  if (given !== undefined && secretEquals(given, token)) return true
  sendJson(res, 401, { error: 'dashboard token required' }, { 'www-authenticate': 'Basic realm="p2pcdn dashboard"' })
  return false
}

function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const space = header.indexOf(' ')
  if (space === -1) return undefined
  const scheme = header.slice(0, space).toLowerCase()
  const value = header.slice(space + 1).trim()
  if (scheme === 'bearer') return value
  if (scheme !== 'basic') return undefined
  const decoded = Buffer.from(value, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon === -1 ? undefined : decoded.slice(colon + 1)
}
