/** Placement: rules by pin name, members that are down, rendezvous determinism and weights. */
import { describe, expect, it } from 'vitest'
import { parseTopology } from '../../src/topology/index.js'
import { Placement, rank } from '../../src/placement/placement.js'

const topology = parseTopology(`version: 1
hub: { id: p, listen: 127.0.0.1:5001 }
defaults: { replication: { min: 1, max: 2 } }
members:
  - { name: us1, kind: kubo, url: "http://127.0.0.1:6001", tags: { region: us } }
  - { name: us2, kind: kubo, url: "http://127.0.0.1:6002", tags: { region: us }, weight: 2 }
  - { name: eu1, kind: kubo, url: "http://127.0.0.1:6003", tags: { region: eu } }
placement:
  - match: { name: "iso/*" }
    members: { tags: { region: us } }
    replication: { min: 2, max: 2 }
  - match: { name: "eu/?" }
    members: { names: [eu1] }
    replication: { min: 1, max: 1 }
`, 'p.yaml')

describe('Placement', () => {
  it('applies the first rule whose glob matches the pin name', () => {
    const p = new Placement(topology, () => true)
    const iso = p.place({ key: 'k1', name: 'iso/debian.iso' })
    expect(iso.replication).toEqual({ min: 2, max: 2 })
    expect(iso.ranked.sort()).toEqual(['us1', 'us2'])
    expect(p.place({ key: 'k1', name: 'eu/a' }).ranked).toEqual(['eu1'])
    const other = p.place({ key: 'k1', name: 'eu/ab' }) // `?` is one character: falls through to defaults
    expect(other.replication).toEqual({ min: 1, max: 2 })
    expect(other.ranked).toHaveLength(3)
  })

  it('skips members that are down or excluded, and lets the client raise replication', () => {
    const p = new Placement(topology, (m) => m !== 'us2')
    expect(p.place({ key: 'k', name: 'iso/x' }).ranked).toEqual(['us1'])
    expect(p.place({ key: 'k', exclude: new Set(['us1']) }).ranked).toEqual(['eu1'])
    expect(p.place({ key: 'k', replication: { min: 3 } }).replication).toEqual({ min: 3, max: 3 })
  })

  it('ranks deterministically and in proportion to weight', () => {
    const members = [{ name: 'a', weight: 1 }, { name: 'b', weight: 2 }, { name: 'c', weight: 1 }]
    expect(rank('same-key', members)).toEqual(rank('same-key', [...members].reverse()))
    const firsts = { a: 0, b: 0, c: 0 }
    for (let i = 0; i < 4000; i++) firsts[rank(`cid-${i}`, members)[0] as 'a' | 'b' | 'c']++
    expect(firsts.b / 4000).toBeGreaterThan(0.45) // expected 0.5
    expect(firsts.b / 4000).toBeLessThan(0.55)
    expect(Math.abs(firsts.a - firsts.c) / 4000).toBeLessThan(0.05)
  })

  it('moves only the departed member\'s share when a member leaves', () => {
    const all = [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }, { name: 'c', weight: 1 }]
    let moved = 0
    for (let i = 0; i < 2000; i++) {
      const before = rank(`k${i}`, all)[0]
      const after = rank(`k${i}`, all.filter(m => m.name !== 'c'))[0]
      if (before !== 'c' && before !== after) moved++
    }
    expect(moved).toBe(0)
  })
})
