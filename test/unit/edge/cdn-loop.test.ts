import { describe, expect, it } from 'vitest'
import { MAX_EDGE_HOPS, createCdnLoop } from '../../../edge/src/cdn-loop.js'

describe('CDN-Loop', () => {
  const loop = createCdnLoop('node1')

  it('appends this edge to the received list', () => {
    expect(loop.append(undefined)).toBe('p2pcdn; edge=node1')
    expect(loop.append('  ')).toBe('p2pcdn; edge=node1')
    expect(loop.append('cdn.example')).toBe('cdn.example, p2pcdn; edge=node1')
    expect(loop.append(['a.example', 'b.example'])).toBe('a.example, b.example, p2pcdn; edge=node1')
  })

  it('finds this edge in the list, whatever the case of the cdn-id and the spacing', () => {
    expect(loop.problem(undefined)).toBeUndefined()
    expect(loop.problem('p2pcdn; edge=node2, other.example; edge=node1')).toBeUndefined()
    expect(loop.problem('other.example, P2PCDN ;edge = node1')).toMatch(/already on the request path/)
    expect(loop.problem(['x.example', 'p2pcdn; edge=node1'])).toMatch(/already on the request path/)
  })

  it('does not split members at commas inside quoted parameters', () => {
    expect(loop.problem('other.example; note="a, p2pcdn; edge=node1, b"')).toBeUndefined()
  })

  it(`refuses a chain of ${MAX_EDGE_HOPS} p2pcdn members, and counts only those`, () => {
    const chain = (n: number): string => Array.from({ length: n }, (_, i) => `p2pcdn; edge=e${i}`).join(', ')
    expect(loop.problem(chain(MAX_EDGE_HOPS - 1))).toBeUndefined()
    expect(loop.problem(`${chain(MAX_EDGE_HOPS - 1)}, ${'x.example, '.repeat(20)}y.example`)).toBeUndefined()
    expect(loop.problem(chain(MAX_EDGE_HOPS))).toMatch(/more than 7 p2pcdn edges/)
  })

  it('gives every edge its own id', () => {
    expect(createCdnLoop().member).not.toBe(createCdnLoop().member)
  })
})
