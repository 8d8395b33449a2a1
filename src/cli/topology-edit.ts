/**
 * @module cli/topology-edit
 * `supercluster topology add-member|remove-member|drain-member|set`: change a topology
 * file from scripts and runbooks without hand-editing YAML. Each edit keeps the rest of
 * the file byte for byte, is checked as the daemon would load the result, and replaces
 * the file atomically (a running daemon that watches it picks the change up). A refused
 * edit prints the problems, leaves the file alone and exits 2.
 */
import type { Command } from 'commander'
import cliProgress from 'cli-progress'
import { hubRequest } from './auth.js'
import type { StatusReport } from '../hub/status-report.js'
import { TopologyError } from '../errors.js'
import {
  addMember, editTopologyFile, parseDuration, removeMember, setDrain, setValue, type Splice,
} from '../topology/index.js'
import { EXIT_INVALID, type ResolvedIo } from './topology-io.js'

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

export function registerTopologyEditCommands (topology: Command, io: ResolvedIo): void {
  const { out, env, refuse } = io

  /** Run one edit; true when the file now says what was asked (written or already so). */
  const edit = async (file: string, splice: (text: string) => Splice, done: (changed: boolean, members: number) => string): Promise<boolean> => {
    try {
      const { changed, topology: t } = await editTopologyFile(file, env, splice)
      out(`${file}: ${done(changed, t.members.length)}\n`)
      return true
    } catch (e) {
      refuse(e)
      return false
    }
  }
  const after = `
The file is only written when the result is a valid topology (\${VAR} read from the
environment, as the daemon would); otherwise each problem is printed as
"file:line:col path: message", the file is left as it was, and the exit code is ${EXIT_INVALID}.
The rest of the file (comments, blank lines, quoting, flow or block style) is kept byte
for byte, and the file is replaced atomically.`

  topology
    .command('add-member')
    .description('append a member to a topology file')
    .argument('<file>', 'topology YAML file')
    .requiredOption('--name <name>', 'member name (unique)')
    .option('--url <url>', 'the member\'s Kubo RPC API URL; repeat for several peers of one sub-cluster', collect)
    .option('--kind <kind>', 'cluster-proxy, kubo, hub or embedded', 'kubo')
    .option('--tag <key=value>', 'a tag for placement rules; repeatable', collect)
    .option('--weight <n>', 'share of pins relative to the other members')
    .option('--listen <host:port>', 'kind embedded: where the hub serves the node')
    .option('--repo <dir>', 'kind embedded: the node\'s repository directory')
    .addHelpText('after', `
The member is written at the end of members, in the style of the members already there.
Kind embedded takes --listen and --repo instead of --url.${after}`)
    .action(async (file: string, opts: { name: string, url?: string[], kind: string, tag?: string[], weight?: string, listen?: string, repo?: string }) => {
      const tags: Record<string, string> = {}
      for (const t of opts.tag ?? []) {
        const eq = t.indexOf('=')
        if (eq <= 0) { refuse(usage(`--tag ${t}: expected key=value`)); return }
        tags[t.slice(0, eq)] = t.slice(eq + 1)
      }
      const weight = opts.weight === undefined ? undefined : Number.isFinite(Number(opts.weight)) ? Number(opts.weight) : opts.weight
      await edit(file, text => addMember(text, file, { name: opts.name, kind: opts.kind, urls: opts.url, tags, weight, listen: opts.listen, repo: opts.repo }),
        (_changed, n) => `added member ${opts.name} (${n} members)`)
    })

  topology
    .command('remove-member')
    .description('remove a member (and its comments) from a topology file')
    .argument('<file>', 'topology YAML file')
    .requiredOption('--name <name>', 'member name')
    .addHelpText('after', `
Refused while placement rules or passthrough name the member: change those first, or
drain the member (drain-member) to move its pins away before removing it.${after}`)
    .action(async (file: string, opts: { name: string }) => {
      await edit(file, text => removeMember(text, file, opts.name), (_changed, n) => `removed member ${opts.name} (${n} members left)`)
    })

  topology
    .command('drain-member')
    .description('set drain: true on a member (no new pins; the hub moves its pins away), optionally wait until it is empty')
    .argument('<file>', 'topology YAML file')
    .requiredOption('--name <name>', 'member name')
    .option('--undrain', 'set drain: false instead (the member takes pins again)')
    .option('--hub <url>', 'the running hub\'s base URL (its admin API), to report the member\'s pins')
    .option('--wait', 'with --hub: poll until the member holds no pins')
    .option('--interval <duration>', 'with --wait: time between polls', '2s')
    .option('--timeout <duration>', 'with --wait: give up (exit 1) after this long')
    .addHelpText('after', `
With --hub URL --wait, polls GET URL/supercluster/v1/status until the member has no pins
left (every status counted), with a progress bar on a terminal and one line per change
otherwise. The hub moves the pins once it has reloaded the file.${after}`)
    .action(async (file: string, opts: { name: string, undrain?: boolean, hub?: string, wait?: boolean, interval: string, timeout?: string }) => {
      const drain = opts.undrain !== true
      if (opts.wait === true && (opts.hub === undefined || !drain)) {
        refuse(usage(opts.hub === undefined ? '--wait needs --hub URL (the running hub to watch)' : '--wait goes with draining, not --undrain'))
        return
      }
      let intervalMs: number
      let timeoutMs: number | undefined
      try {
        intervalMs = parseDuration(opts.interval)
        timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout)
      } catch (e) {
        refuse(usage(`${(e as Error).message}`))
        return
      }
      const ok = await edit(file, text => setDrain(text, file, opts.name, drain), changed =>
        `${changed ? '' : 'unchanged: '}member ${opts.name} ${drain ? 'is draining' : 'is not draining'} (drain: ${String(drain)})`)
      if (!ok || opts.hub === undefined) return
      if (opts.wait !== true) {
        out(`${opts.name}: ${await pinsOn(opts.hub, opts.name)} pins on the member now\n`)
        return
      }
      await waitUntilEmpty(io, opts.hub, opts.name, intervalMs, timeoutMs)
    })

  topology
    .command('set')
    .description('set one value in a topology file')
    .argument('<file>', 'topology YAML file')
    .argument('<path>', 'defaults.replication.min, members.2.weight, members[name=a].tags.region, tags["a.b"]')
    .argument('<value>', 'a YAML value: 2 is a number, true a boolean, {a: 1} a mapping, "2" a string')
    .addHelpText('after', `
Missing mappings on the path are created (block style); the value is written in flow
style on one line. A list index equal to the list's length appends.${after}`)
    .action(async (file: string, path: string, value: string) => {
      await edit(file, text => setValue(text, file, path, value), changed => `${changed ? 'set' : 'unchanged:'} ${path} = ${value}`)
    })
}

/** A bad option value, refused like a topology problem (exit 2). */
function usage (message: string): TopologyError {
  return new TopologyError([message])
}

/** Allocations the hub holds for `member`, every status counted; throws when the hub does not know it. */
async function pinsOn (hub: string, member: string): Promise<number> {
  const res = await hubRequest(hub, '/supercluster/v1/status')
  const report = await res.body.json() as StatusReport
  const m = report.members.find(x => x.name === member)
  if (m === undefined) throw new Error(`the hub at ${hub} has no member ${member} (members: ${report.members.map(x => x.name).join(', ')})`)
  return Object.values(m.pins ?? {}).reduce((a, b) => a + b, 0)
}

/** Poll until the member holds nothing: a bar on a terminal, a line per change otherwise. */
async function waitUntilEmpty (io: ResolvedIo, hub: string, member: string, intervalMs: number, timeoutMs?: number): Promise<void> {
  const started = Date.now()
  const bar = io.tty
    ? new cliProgress.SingleBar({ format: `draining ${member} [{bar}] {value}/{total} pins moved away`, hideCursor: true }, cliProgress.Presets.shades_classic)
    : undefined
  let total = 0
  let last: number | undefined
  try {
    for (;;) {
      const left = await pinsOn(hub, member)
      total = Math.max(total, left) // pins placed there before the hub reloaded the file count too
      if (bar !== undefined) {
        if (last === undefined) bar.start(total, 0)
        bar.setTotal(total)
        bar.update(total - left)
      } else if (left !== last) {
        io.err(`${member}: ${left} pin${left === 1 ? '' : 's'} left\n`)
      }
      last = left
      if (left === 0) break
      if (timeoutMs !== undefined && Date.now() - started + intervalMs > timeoutMs) {
        throw new Error(`${member} still holds ${left} pin${left === 1 ? '' : 's'} after ${Math.round((Date.now() - started) / 1000)}s (--timeout)`)
      }
      await new Promise(resolve => setTimeout(resolve, intervalMs))
    }
  } finally {
    bar?.stop()
  }
  io.out(`${member}: drained, no pins left\n`)
}
