import { describe, expect, it } from 'vitest'
import { parsePageMessage, parsePortReply, parseWorkerMessage } from '../../../client/src/service-worker/messages.js'
import { BYPASS_HEADER, intercepts, parseRules, type RequestFacts } from '../../../client/src/service-worker/rules.js'

const SITE = 'https://site.example'
const NONE = parseRules(undefined)

function req(url: string, facts: Partial<Omit<RequestFacts, 'headers'>> & { headers?: string[] } = {}): RequestFacts {
  const names = new Set((facts.headers ?? []).map(h => h.toLowerCase()))
  return {
    method: 'GET',
    mode: 'no-cors',
    destination: '',
    credentials: 'include',
    cache: 'default',
    ...facts,
    url: new URL(url, SITE).href,
    headers: { has: (name: string) => names.has(name.toLowerCase()) }
  }
}

describe('which requests the worker hands to the SDK', () => {
  it('media, images, fonts and large static files of the site, by destination or extension', () => {
    expect(intercepts(req('/movie.mp4', { destination: 'video' }), SITE, NONE)).toBe(true)
    expect(intercepts(req('/thumb?id=3', { destination: 'image' }), SITE, NONE)).toBe(true)
    expect(intercepts(req('/f/font.woff2', { destination: 'font' }), SITE, NONE)).toBe(true)
    expect(intercepts(req('/dl/app.ZIP', { mode: 'cors', credentials: 'same-origin' }), SITE, NONE)).toBe(true)
    expect(intercepts(req('/seg-1.m4s', { mode: 'cors', credentials: 'same-origin' }), SITE, NONE)).toBe(true)
  })

  it('never navigations, scripts, styles, other methods, other sites, playlists or pages', () => {
    expect(intercepts(req('/movie.mp4', { mode: 'navigate', destination: 'document' }), SITE, NONE)).toBe(false)
    expect(intercepts(req('/app.js', { destination: 'script' }), SITE, NONE)).toBe(false)
    expect(intercepts(req('/site.css', { destination: 'style' }), SITE, NONE)).toBe(false)
    expect(intercepts(req('/a.png', { method: 'POST', destination: 'image' }), SITE, NONE)).toBe(false)
    expect(intercepts(req('https://other.example/a.png', { destination: 'image' }), SITE, NONE)).toBe(false)
    expect(intercepts(req('/live/index.m3u8'), SITE, NONE)).toBe(false)
    expect(intercepts(req('/api/user.json'), SITE, NONE)).toBe(false)
    expect(intercepts(req('/dir.mp4/'), SITE, NONE)).toBe(false)
  })

  it('never requests that must reach the server as sent: credentials, cache bypass, the SDK’s own', () => {
    expect(intercepts(req('/a.png', { destination: 'image', headers: ['Authorization'] }), SITE, NONE)).toBe(false)
    expect(intercepts(req('/a.png', { mode: 'cors', credentials: 'include' }), SITE, NONE)).toBe(false)
    for (const cache of ['no-store', 'reload', 'no-cache'])
      expect(intercepts(req('/a.png', { destination: 'image', cache }), SITE, NONE)).toBe(false)
    expect(intercepts(req('/a.png', { destination: 'image', headers: [BYPASS_HEADER] }), SITE, NONE)).toBe(false)
  })

  it("the operator's rules: exclude wins, include adds, by path prefix or extension", () => {
    const rules = parseRules({ include: ['/downloads/', '.json'], exclude: ['/account/', '.PNG'] })
    expect(intercepts(req('/account/avatar.jpg', { destination: 'image' }), SITE, rules)).toBe(false)
    expect(intercepts(req('/img/a.png', { destination: 'image' }), SITE, rules)).toBe(false)
    expect(intercepts(req('/downloads/notes.txt'), SITE, rules)).toBe(true)
    expect(intercepts(req('/data/big.json'), SITE, rules)).toBe(true)
    expect(intercepts(req('/img/a.jpg', { destination: 'image' }), SITE, rules)).toBe(true)
  })

  it('refuses malformed rules by name', () => {
    expect(() => parseRules('all')).toThrow('P2PCDN_RULES: expected an object')
    expect(() => parseRules({ exclude: ['/a'], inclde: [] })).toThrow('unknown key "inclde"')
    expect(() => parseRules({ include: ['*.mp4'] })).toThrow('"*.mp4" is neither a path prefix')
    expect(() => parseRules({ include: '/a' })).toThrow('P2PCDN_RULES.include: expected an array')
    expect(() => parseRules({ exclude: Array.from({ length: 101 }, () => '/a') })).toThrow('at most 100')
  })
})

describe('relay messages', () => {
  it('ignore other versions and anything malformed', () => {
    expect(parsePageMessage({ p2pcdn: 1, type: 'hello' })).toEqual({ p2pcdn: 1, type: 'hello' })
    expect(parsePageMessage({ p2pcdn: 2, type: 'hello' })).toBeUndefined()
    expect(parsePageMessage('hello')).toBeUndefined()
    expect(parseWorkerMessage({ p2pcdn: 1, type: 'request', url: 'https://s/a', range: null })).toBeDefined()
    expect(parseWorkerMessage({ p2pcdn: 1, type: 'request', url: 'x'.repeat(9000), range: null })).toBeUndefined()
    expect(parseWorkerMessage({ p2pcdn: 1, type: 'request', url: 'https://s/a', range: 5 })).toBeUndefined()
  })

  it('keep only the headers that describe the bytes, and refuse statuses other than 200 and 206', () => {
    const head = parsePortReply({
      type: 'head',
      status: 206,
      headers: [
        ['Content-Range', 'bytes 0-9/10'],
        ['Set-Cookie', 'a=b'],
        ['Content-Length', '10']
      ]
    })
    expect(head).toEqual({
      type: 'head',
      status: 206,
      headers: [
        ['Content-Range', 'bytes 0-9/10'],
        ['Content-Length', '10']
      ]
    })
    expect(parsePortReply({ type: 'head', status: 302, headers: [] })).toBeUndefined()
    expect(parsePortReply({ type: 'head', status: 200, headers: [['a']] })).toBeUndefined()
    expect(parsePortReply({ type: 'chunk', bytes: 'not bytes' })).toBeUndefined()
    expect(parsePortReply({ type: 'error', reason: 'x'.repeat(5000) })).toEqual({
      type: 'error',
      reason: 'x'.repeat(500)
    })
  })
})
