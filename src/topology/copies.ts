/**
 * @module topology/copies
 * How many copies a pin ends up with across the levels of a hierarchy, for `topology
 * show`. At one level a rule (or the defaults) puts a pin on `min`..`max` of the members
 * it selects (never more than there are); a plain member keeps one copy, a member that is
 * a hub spreads its copy again by its own topology. Ranges are combined level by level:
 * the fewest copies are the `min` smallest contributions, the most the `max` largest.
 *
 * A hub below applies its first rule whose glob fits the pin's name; from the rule above
 * only the glob is known, so every rule below that could take such a name counts and the
 * result spans them. A level whose topology is unknown leaves the total unknown: nothing
 * is guessed.
 */
import { pinNameMatches, placeableMembers, type MemberSpec, type PlacementRule, type Replication, type Topology } from './schema.js'

export interface Range { min: number, max: number }

/** What is known of the hub behind a member: its topology and, recursively, the levels below it. */
export type Level =
  | { known: true, topology: Topology, below: ReadonlyMap<string, Level> }
  | { known: false, reason: string }

/** One member's share: one copy, or what the hub behind it makes of one. */
export interface Share {
  member: string
  hub: boolean
  range?: Range
  /** Why a hub's range is unknown. */
  unknown?: string
}

export interface Copies {
  /** The rule's (or the defaults') replication at this level. */
  here: Replication
  shares: Share[]
  /** The total; undefined when a hub that could get the pin is unknown. */
  total?: Range
}

/** Copies a pin gets under `rule` (undefined: the defaults) of topology `t`; `levels` by member name. */
export function copiesOf (t: Topology, rule: PlacementRule | undefined, levels: ReadonlyMap<string, Level>): Copies {
  const here = rule?.replication ?? t.defaults.replication
  const selected = placeableMembers(t, rule?.memberNames === undefined ? undefined : new Set(rule.memberNames))
  const glob = rule?.match.name
  const shares = selected.map(m => shareOf(m, glob, levels.get(m.name)))
  return { here, shares, total: combine(here, shares) }
}

function shareOf (m: MemberSpec, glob: string | undefined, level: Level | undefined): Share {
  if (m.kind !== 'hub') return { member: m.name, hub: false, range: { min: 1, max: 1 } }
  if (level === undefined) return { member: m.name, hub: true, unknown: 'not asked' }
  const r = hubRange(level, glob)
  return 'unknown' in r ? { member: m.name, hub: true, unknown: r.unknown } : { member: m.name, hub: true, range: r }
}

/** The copies one copy placed on this hub becomes, for pins whose names fit `glob` (undefined: any name). */
function hubRange (level: Level, glob: string | undefined): Range | { unknown: string } {
  if (!level.known) return { unknown: level.reason }
  const t = level.topology
  const rules: Array<PlacementRule | undefined> = []
  let settled = false
  for (const r of t.placement) {
    const g = r.match.name
    if (g === undefined || (glob !== undefined && covers(g, glob))) { rules.push(r); settled = true; break }
    if (glob === undefined || mayOverlap(g, glob)) rules.push(r)
  }
  if (!settled) rules.push(undefined) // names no rule takes get the defaults
  let out: Range | undefined
  for (const r of rules) {
    const c = copiesOf(t, r, level.below)
    if (c.total === undefined) {
      const why = c.shares.find(s => s.unknown !== undefined)
      return { unknown: `${t.hub.id}: hub "${why?.member ?? '?'}" ${why?.unknown ?? 'unknown'}` }
    }
    out = out === undefined ? c.total : { min: Math.min(out.min, c.total.min), max: Math.max(out.max, c.total.max) }
  }
  return out ?? { min: 0, max: 0 }
}

/** The total over the shares, or undefined when one is unknown. */
function combine (here: Replication, shares: Share[]): Range | undefined {
  if (shares.some(s => s.range === undefined)) return undefined
  const ranges = shares.map(s => s.range!)
  const least = ranges.map(r => r.min).sort((a, b) => a - b).slice(0, Math.min(here.min, ranges.length))
  const most = ranges.map(r => r.max).sort((a, b) => b - a).slice(0, Math.min(here.max, ranges.length))
  return { min: least.reduce((a, b) => a + b, 0), max: most.reduce((a, b) => a + b, 0) }
}

const WILD = /[*?]/

/** Literal text before the first and after the last wildcard (the whole glob when it has none). */
function ends (glob: string): { head: string, tail: string } {
  const first = glob.search(WILD)
  if (first < 0) return { head: glob, tail: glob }
  let last = glob.length - 1
  while (!WILD.test(glob[last])) last--
  return { head: glob.slice(0, first), tail: glob.slice(last + 1) }
}

/** Whether some name could fit both globs (a necessary test: literal heads and tails must agree). */
export function mayOverlap (a: string, b: string): boolean {
  if (!WILD.test(a)) return pinNameMatches(b, a)
  if (!WILD.test(b)) return pinNameMatches(a, b)
  const x = ends(a)
  const y = ends(b)
  return (x.head.startsWith(y.head) || y.head.startsWith(x.head)) && (x.tail.endsWith(y.tail) || y.tail.endsWith(x.tail))
}

/** Whether every name fitting `inner` fits `outer` (recognised for equal globs, literals and `prefix*`). */
export function covers (outer: string, inner: string): boolean {
  if (outer === inner || outer === '*') return true
  if (!WILD.test(inner)) return pinNameMatches(outer, inner)
  const star = outer.indexOf('*')
  return star === outer.length - 1 && !WILD.test(outer.slice(0, star)) && ends(inner).head.startsWith(outer.slice(0, star))
}

const range = (r: Range): string => `${r.min}..${r.max}`

/** One line: `replication 2..2 here × hub "b" 2..3 → 4..6 copies`, or why the total is unknown. */
export function describeCopies (c: Copies): string {
  const here = `replication ${c.here.min}..${c.here.max} here`
  if (!c.shares.some(s => s.hub)) return `${range(c.total ?? { min: 0, max: 0 })} (no hub below)`
  // Hubs that make the same of a copy are named together.
  const hubs = new Map<string, string[]>()
  for (const s of c.shares.filter(s => s.hub)) {
    const what = s.range !== undefined ? range(s.range) : `unknown (${s.unknown ?? '?'})`
    hubs.set(what, [...(hubs.get(what) ?? []), `"${s.member}"`])
  }
  const plain = c.shares.filter(s => !s.hub).map(s => s.member)
  const parts = [
    ...[...hubs].map(([what, names]) => `${names.length === 1 ? 'hub' : 'hubs'} ${names.join(', ')} ${what}`),
    ...(plain.length > 0 ? [`1 on ${plain.join(', ')}`] : []),
  ]
  return `${here} × ${parts.join(' or ')} → ${c.total !== undefined ? `${range(c.total)} copies` : 'unknown'}`
}
