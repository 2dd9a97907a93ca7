/**
 * `CDN-Loop` (RFC 8586): every request an edge sends upstream (to its parent edge or the
 * origin) carries the list it received plus this edge's own member, so a request that
 * comes back to an edge it already passed (an edge that is its own parent, A -> B -> A)
 * is refused instead of going round until sockets run out.
 * https://www.rfc-editor.org/rfc/rfc8586
 *
 * `Via` cannot do this: every edge writes the same `1.1 p2pcdn-edge` pseudonym there.
 */
import { randomBytes } from 'node:crypto'

/** The cdn-id of our members: `p2pcdn; edge=<node id>`. */
export const CDN_ID = 'p2pcdn'

/**
 * A request that arrives with this many p2pcdn members is refused. Tiers are two or
 * three deep; a chain this long is a loop the ids did not catch (through pass-through
 * requests of edges that restarted with new ids), or a forgery.
 */
export const MAX_EDGE_HOPS = 8

export interface CdnLoop {
  /** This edge's member, e.g. `p2pcdn; edge=Xk3v9aQ2`. */
  readonly member: string
  /** The field to send upstream: the received list with our member appended. */
  append: (prior: string | string[] | undefined) => string
  /** Why a request that arrived with this field must not be forwarded, or undefined. */
  problem: (received: string | string[] | undefined) => string | undefined
}

/**
 * @param nodeId this edge process's id: random by default, so two edges never share one
 * and a client cannot know it ahead (it names the edge only to the edge's upstream).
 */
export function createCdnLoop(nodeId = randomBytes(6).toString('base64url')): CdnLoop {
  const member = `${CDN_ID}; edge=${nodeId}`
  return {
    member,
    append: prior => {
      const list = prior === undefined ? '' : Array.isArray(prior) ? prior.join(', ') : prior
      return list.trim() === '' ? member : `${list}, ${member}`
    },
    problem: received => {
      if (received === undefined) return undefined
      let ours = 0
      for (const m of members(Array.isArray(received) ? received.join(', ') : received)) {
        if (m.id !== CDN_ID) continue
        if (m.edge === nodeId) return 'this edge is already on the request path (CDN-Loop)'
        if (++ours >= MAX_EDGE_HOPS) return `more than ${MAX_EDGE_HOPS - 1} p2pcdn edges on the request path (CDN-Loop)`
      }
      return undefined
    }
  }
}

/** Members of a CDN-Loop list: the cdn-id, lowercased, and our `edge` parameter when present. */
function* members(value: string): Generator<{ id: string; edge: string | undefined }> {
  // Commas inside quoted parameter values do not split members (RFC 9110 §5.6.1, §5.6.4).
  for (const part of value.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? []) {
    const [id = '', ...params] = part.split(';')
    let edge: string | undefined
    for (const p of params) {
      const eq = p.indexOf('=')
      if (eq !== -1 && p.slice(0, eq).trim().toLowerCase() === 'edge') edge = p.slice(eq + 1).trim()
    }
    yield { id: id.trim().toLowerCase(), edge }
  }
}
