/**
 * @module placement
 * Which members get a pin. The first placement rule whose `match` fits the pin name
 * narrows the candidates and may override replication; candidates that are down are
 * skipped; the rest are ranked by weighted rendezvous hashing of the CID, so every hub
 * with the same topology ranks them alike, and a member joining or leaving moves only
 * its own share. The first `max` ranked members are the placement; the others are
 * fallbacks when one of those fails.
 */
import { createHash } from 'node:crypto'
import type { MemberSpec, PlacementRule, Replication, Topology } from '../topology/index.js'

export interface PlacementRequest {
  /** Key to hash: the CID, or a random nonce when the CID is not known yet (add). */
  key: string
  /** Pin name, matched against the rules' `match.name` globs. */
  name?: string
  /** Replication asked for by the client (cluster-style options); rules and defaults otherwise. */
  replication?: Partial<Replication>
  /** Members that must not be chosen (already failed, draining...). */
  exclude?: Set<string>
}

export interface PlacementDecision {
  replication: Replication
  /** Every eligible member, best first; the first `replication.max` are the placement. */
  ranked: string[]
}

export class Placement {
  private readonly topology: Topology
  private readonly isUp: (member: string) => boolean

  constructor (topology: Topology, isUp: (member: string) => boolean) {
    this.topology = topology
    this.isUp = isUp
  }

  place (req: PlacementRequest): PlacementDecision {
    const rule = this.rule(req.name)
    const base = rule?.replication ?? this.topology.defaults.replication
    const min = req.replication?.min ?? base.min
    const max = Math.max(min, req.replication?.max ?? Math.max(base.max, min))
    const candidates = this.topology.members.filter(m =>
      (rule === undefined || selects(rule, m)) && req.exclude?.has(m.name) !== true && this.isUp(m.name))
    return { replication: { min, max }, ranked: rank(req.key, candidates) }
  }

  private rule (name: string | undefined): PlacementRule | undefined {
    return this.topology.placement.find(r => r.match?.name === undefined || (name !== undefined && globMatch(r.match.name, name)))
  }
}

function selects (rule: PlacementRule, m: MemberSpec): boolean {
  const sel = rule.members
  if (sel === undefined) return true
  if (sel.names !== undefined && !sel.names.includes(m.name)) return false
  for (const [k, v] of Object.entries(sel.tags ?? {})) {
    if (m.tags[k] !== v) return false
  }
  return true
}

/** Weighted rendezvous: score = −weight / ln(u), u uniform in (0,1) from hash(key, member). */
export function rank (key: string, members: Array<Pick<MemberSpec, 'name' | 'weight'>>): string[] {
  return members
    .map(m => {
      const h = createHash('sha256').update(key).update('\u0000').update(m.name).digest()
      const u = (Number(h.readBigUInt64BE(0) >> 11n) + 0.5) / 2 ** 53
      return { name: m.name, score: -m.weight / Math.log(u) }
    })
    .sort((a, b) => b.score - a.score || (a.name < b.name ? -1 : 1))
    .map(s => s.name)
}

/** `*` matches any run of characters, `?` one character; everything else literally. */
export function globMatch (glob: string, value: string): boolean {
  const re = new RegExp('^' + glob.split('').map(ch => ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')).join('') + '$', 's')
  return re.test(value)
}
