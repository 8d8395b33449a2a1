/**
 * @module placement
 * Which members get a pin. The first placement rule whose `match` fits the pin name
 * narrows the candidates and may override replication; candidates that are down are
 * skipped; the rest are ranked by weighted rendezvous hashing of the CID, so every hub
 * with the same topology ranks them alike, and a member joining or leaving moves only
 * its own share. The first `max` ranked members are the placement; the others are
 * fallbacks when one of those fails. Draining members are never candidates.
 * `preferred` is the same ranking with every member assumed up: where a pin belongs,
 * which the reconciler compares across topologies to move pins after a change.
 */
import { createHash } from 'node:crypto'
import { pinNameMatcher, placeableMembers, type MemberSpec, type PlacementRule, type Replication, type Topology } from '../topology/index.js'

export interface PlacementRequest {
  /** Key to hash: the CID, or a random nonce when the CID is not known yet (add). */
  key: string
  /** Pin name, matched against the rules' `match.name` globs. */
  name?: string
  /** Replication asked for by the client (cluster-style options); rules and defaults otherwise. */
  replication?: Partial<Replication>
  /** Members that must not be chosen (already failed, draining...). */
  exclude?: Set<string>
  /** Bytes the content will take, when known (an upload's length): members without room are skipped. */
  size?: bigint
}

export interface PlacementDecision {
  replication: Replication
  /** Every eligible member, best first; the first `replication.max` are the placement. */
  ranked: string[]
}

export class Placement {
  private readonly topology: Topology
  private readonly isUp: (member: string, size?: bigint) => boolean
  /** Rules with their name globs compiled once. */
  private readonly rules: Array<{ rule: PlacementRule, matches: (name: string) => boolean, members: Set<string> }>

  constructor (topology: Topology, isUp: (member: string, size?: bigint) => boolean) {
    this.topology = topology
    this.isUp = isUp
    this.rules = topology.placement.map(rule => {
      const glob = rule.match.name
      const matches = glob === undefined ? () => true : pinNameMatcher(glob)
      return { rule, matches, members: new Set(rule.memberNames) }
    })
  }

  place (req: PlacementRequest): PlacementDecision {
    const found = this.rule(req.name)
    const base = found?.rule.replication ?? this.topology.defaults.replication
    const min = req.replication?.min ?? base.min
    const max = Math.max(min, req.replication?.max ?? Math.max(base.max, min))
    const candidates = this.eligible(found).filter(m => req.exclude?.has(m.name) !== true && this.isUp(m.name, req.size))
    return { replication: { min, max }, ranked: rank(req.key, candidates) }
  }

  /** Every member the pin may live on (its rule's, not draining), best first, whether up or not. */
  preferred (req: Pick<PlacementRequest, 'key' | 'name'>): string[] {
    return rank(req.key, this.eligible(this.rule(req.name)))
  }

  private rule (name: string | undefined): Placement['rules'][number] | undefined {
    return this.rules.find(r => r.rule.match.name === undefined || (name !== undefined && r.matches(name)))
  }

  private eligible (found: Placement['rules'][number] | undefined): MemberSpec[] {
    return placeableMembers(this.topology, found?.members)
  }
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
