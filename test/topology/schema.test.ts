import { describe, it, expect } from 'vitest'
import { memberUrlsOverlapHub, parseHostPort, pinNameMatches, selectMembers } from '../../src/topology/index.js'

describe('parseHostPort', () => {
  it('splits host and port', () => {
    expect(parseHostPort('127.0.0.1:5001')).toEqual({ host: '127.0.0.1', port: 5001 })
    expect(parseHostPort('LocalHost:80')).toEqual({ host: 'localhost', port: 80 })
    expect(parseHostPort('[::1]:5001')).toEqual({ host: '::1', port: 5001 })
    expect(parseHostPort('hub.example.com:0')).toEqual({ host: 'hub.example.com', port: 0 })
  })

  it.each(['127.0.0.1', ':5001', '127.0.0.1:', '127.0.0.1:65536', '::1:5001', 'http://127.0.0.1:5001', 'a b:1', '127.0.0.1:5001x'])('refuses %j', s => {
    expect(() => parseHostPort(s)).toThrow(`expected host:port, like 127.0.0.1:5001, got "${s}"`)
  })
})

describe('memberUrlsOverlapHub', () => {
  const hub = (listen: string, ...urls: string[]) =>
    memberUrlsOverlapHub({ hub: { listen }, members: [{ name: 'other', urls: ['http://10.0.0.1:5001'] }, { name: 'm', urls }] })

  it('treats loopback spellings and the wildcard address as one host', () => {
    for (const listen of ['127.0.0.1:5001', 'localhost:5001', '[::1]:5001', '0.0.0.0:5001']) {
      for (const url of ['http://127.0.0.1:5001', 'http://localhost:5001/', 'http://[::1]:5001', 'http://0.0.0.0:5001']) {
        expect(hub(listen, 'http://127.0.0.1:9095', url), `${listen} vs ${url}`).toEqual([{ member: 'm', memberIndex: 1, urlIndex: 1, url }])
      }
    }
  })

  it('applies default ports and compares ports', () => {
    expect(hub('127.0.0.1:80', 'http://localhost')).toHaveLength(1)
    expect(hub('127.0.0.1:443', 'https://localhost')).toHaveLength(1)
    expect(hub('127.0.0.1:443', 'http://localhost')).toEqual([])
    expect(hub('127.0.0.1:5001', 'http://127.0.0.1:5002')).toEqual([])
  })

  it('does not confuse other hosts with the hub', () => {
    expect(hub('10.0.0.2:5001', 'http://10.0.0.1:5001')).toEqual([])
    expect(hub('10.0.0.1:5001', 'http://127.0.0.1:9095')).toEqual([{ member: 'other', memberIndex: 0, urlIndex: 0, url: 'http://10.0.0.1:5001' }])
  })

  it('returns nothing for an unparsable listen address', () => {
    expect(hub('nonsense', 'http://127.0.0.1:5001')).toEqual([])
  })
})

describe('pinNameMatches', () => {
  it('* is any run of characters, slashes included, ? is one', () => {
    expect(pinNameMatches('iso/*', 'iso/debian-12.iso')).toBe(true)
    expect(pinNameMatches('iso/*', 'iso/')).toBe(true)
    expect(pinNameMatches('iso/*', 'iso/a/b')).toBe(true)
    expect(pinNameMatches('iso/*', 'isos/a')).toBe(false)
    expect(pinNameMatches('iso/*', 'x/iso/a')).toBe(false)
    expect(pinNameMatches('v?', 'v1')).toBe(true)
    expect(pinNameMatches('v?', 'v10')).toBe(false)
    expect(pinNameMatches('*', '')).toBe(true)
  })

  it('treats every other character literally', () => {
    expect(pinNameMatches('a.b+(c)[d]$', 'a.b+(c)[d]$')).toBe(true)
    expect(pinNameMatches('a.b', 'axb')).toBe(false)
    expect(pinNameMatches('line\\*', 'line\\x')).toBe(true)
  })
})

describe('selectMembers', () => {
  const members: Array<{ name: string, tags: Record<string, string> }> = [
    { name: 'a', tags: { region: 'us', tier: 'hot' } },
    { name: 'b', tags: { region: 'us' } },
    { name: 'c', tags: { region: 'eu' } },
  ]
  it('needs every tag and, when given, the name', () => {
    expect(selectMembers(members, { tags: { region: 'us' } }).map(m => m.name)).toEqual(['a', 'b'])
    expect(selectMembers(members, { tags: { region: 'us', tier: 'hot' } }).map(m => m.name)).toEqual(['a'])
    expect(selectMembers(members, { tags: { region: 'us' }, names: ['b', 'c'] }).map(m => m.name)).toEqual(['b'])
    expect(selectMembers(members, {}).map(m => m.name)).toEqual(['a', 'b', 'c'])
  })
})
