/**
 * @module cli/topology-diff
 * `supercluster topology diff OLD NEW`: what a topology change would do before it is
 * deployed, field by field and in pins that would move to other members (read from the
 * hub's state without writing to it). Exit codes follow diff(1): 0 equal, 1 different,
 * 2 a file is invalid.
 */
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import { countPinMoves, type PinMoves } from '../placement/moves.js'
import { PostgresPinStore } from '../state/postgres.js'
import { SqlitePinStore } from '../state/sqlite.js'
import type { PinStore } from '../state/store.js'
import { diffTopologies, formatTopologyDiff, redactUrl, stateBackendOf, type Topology } from '../topology/index.js'
import { table } from './table.js'
import { EXIT_INVALID, type ResolvedIo } from './topology-io.js'

/** Exit code when the topologies differ (diff(1)'s convention). */
const EXIT_DIFFERENT = 1

export type PinMovement =
  | ({ known: true, source: string } & PinMoves)
  | { known: false, source?: string, reason: string }

export function registerTopologyDiffCommand (topology: Command, io: ResolvedIo): void {
  topology
    .command('diff')
    .description('show what changes from one topology file to another, and how many pins would move')
    .argument('<old>', 'the topology in use')
    .argument('<new>', 'the topology about to replace it')
    .option('--state <path-or-url>', 'the hub\'s state: its directory, a pins.sqlite file or a postgres:// URL (default: hub.state of NEW)')
    .option('--json', 'print JSON')
    .addHelpText('after', `
Fields are compared after defaults are applied; secrets print as ***. With a state, every
pin is placed under OLD and under NEW (all members up, draining members left out, each
pin's recorded replication) and the pins whose members change are counted, with the
copies each member gains and loses. The state is opened read-only and never migrated;
without one, pin movement is reported as unknown.
Exit code: 0 the topologies are equal, ${EXIT_DIFFERENT} they differ, ${EXIT_INVALID} a file is invalid.`)
    .action(async (oldFile: string, newFile: string, opts: { state?: string, json?: boolean }) => {
      const before = await io.load(oldFile)
      const after = await io.load(newFile)
      if (before === undefined || after === undefined) return
      const diff = diffTopologies(before, after)
      const pins = await pinMovement(opts.state ?? after.hub.state, before, after)
      if (!pins.known && opts.state === undefined) pins.reason += ' (hub.state of the new file; pass --state PATH_OR_URL)'

      if (opts.json === true) {
        io.out(`${JSON.stringify({ ...diff, pins }, null, 2)}\n`)
      } else {
        io.out(diff.equal ? 'no changes\n' : formatTopologyDiff(diff))
        io.out(formatPinMovement(pins))
      }
      process.exitCode = diff.equal ? 0 : EXIT_DIFFERENT
    })
}

/** Count pin moves from the state at `location`, or say why that is not known. */
async function pinMovement (location: string, before: Topology, after: Topology): Promise<PinMovement> {
  const postgres = stateBackendOf(location) === 'postgres'
  const source = postgres ? redactUrl(location) : sqliteFile(location)
  let store: PinStore
  try {
    if (postgres) {
      store = await PostgresPinStore.open(location, { readOnly: true, maxConnections: 1 })
    } else {
      if (!existsSync(source)) return { known: false, source, reason: `no state at ${source}` }
      store = new SqlitePinStore(source, { readonly: true })
    }
  } catch (err) {
    return { known: false, source, reason: (err as Error).message }
  }
  try {
    return { known: true, source, ...await countPinMoves(store.list({ state: 'pinned' }), before, after) }
  } catch (err) {
    return { known: false, source, reason: `cannot read the pinset: ${(err as Error).message}` }
  } finally {
    await store.close()
  }
}

/** `hub.state` is a directory holding pins.sqlite; a path to the file itself is accepted too. */
function sqliteFile (location: string): string {
  try {
    if (statSync(location).isDirectory()) return join(location, 'pins.sqlite')
  } catch {
    if (!location.endsWith('.sqlite')) return join(location, 'pins.sqlite')
  }
  return location
}

function formatPinMovement (p: PinMovement): string {
  if (!p.known) return `pins: movement unknown: ${p.reason}\n`
  const head = `pins: ${p.moved} of ${p.pins} would move (state ${p.source})\n`
  const rows = p.members
    .filter(m => m.before + m.after > 0)
    .map(m => [m.name, String(m.before), String(m.after), `+${m.added}`, `-${m.removed}`])
  if (rows.length === 0) return head
  return head + table(['MEMBER', 'BEFORE', 'AFTER', 'ADDED', 'REMOVED'], rows).split('\n').map(l => (l === '' ? l : `  ${l}`)).join('\n')
}
