/**
 * @module cli/status
 * `supercluster status`: asks a running hub's admin API and prints every member with its
 * health, free space, pins and queue depth, the topology generation and the progress of
 * the reconciler's balancing run, the store's backlog and the last errors, as a table or
 * (`--json`) the admin API's JSON as it came.
 */
import type { Command } from 'commander'
import { hubRequest } from './auth.js'
import { table } from './table.js'
import type { StatusMember, StatusReport } from '../hub/status-report.js'

/** Recent errors shown under the table (the JSON has them all). */
const ERRORS_SHOWN = 5

export function registerStatusCommands (program: Command): void {
  program.command('status')
    .description("print a running hub's members: health, free space, pin counts, queue depth")
    .option('--api <url>', 'the hub', 'http://127.0.0.1:5001')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { api: string, json?: boolean }) => {
      const res = await hubRequest(opts.api, '/supercluster/v1/status')
      const report = await res.body.json() as StatusReport
      if (opts.json === true) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n')
        return
      }
      const rows = report.members.map(m => [
        m.name + (m.removed === true ? ' (removed)' : m.drain === true ? ' (draining)' : ''), m.kind, health(m), m.latencyMs !== undefined ? `${m.latencyMs} ms` : '-',
        free(m), String(m.pins.pinned ?? 0), String((m.pins.queued ?? 0) + (m.pins.pinning ?? 0)), String(m.pins.error ?? 0),
        String(m.queueDepth), m.lastError ?? '',
      ])
      const head = ['MEMBER', 'KIND', 'HEALTH', 'LATENCY', 'FREE', 'PINNED', 'PENDING', 'ERRORS', 'QUEUE', 'LAST ERROR']
      const r = report.rebalance
      const generation = report.topology === undefined ? '' : `, topology generation ${report.topology.generation}`
      const backlog = report.intents.pending === 0 ? 'none pending' : `${report.intents.pending} pending, oldest ${report.intents.oldestAgeSeconds} s`
      const lines = [
        `hub ${report.hub.id}${generation}`,
        // The balancing run, once there is one to speak of.
        ...(r === undefined || (!r.running && r.total === 0) ? [] : [`rebalance: ${r.running ? `running (${r.reason ?? ''})` : 'idle'}, ${r.done}/${r.total} moved, ${r.pending} pending`]),
        table(head, rows).trimEnd(),
        '',
        `intents: ${backlog}; under-replicated pins: ${report.underReplicated ?? 'unknown'}`,
      ]
      const errors = report.recentErrors.slice(0, ERRORS_SHOWN)
      if (errors.length > 0) {
        lines.push('', `recent errors (newest first, ${report.recentErrors.length} kept):`)
        lines.push(table(['TIME', 'WHAT', 'MEMBER', 'COMMAND', 'MESSAGE'],
          errors.map(e => [new Date(e.at).toISOString().slice(11, 19), e.kind, e.member ?? '', e.command ?? '', e.message])).trimEnd())
      }
      process.stdout.write(lines.join('\n') + '\n')
    })
}

function health (m: StatusMember): string {
  const state = m.breaker === 'half-open' ? 'trial' : m.up ? 'up' : 'DOWN'
  return m.up && m.acceptsPins === false ? `${state} (full)` : state
}

function free (m: StatusMember): string {
  if (m.repoSize === undefined || m.storageMax === undefined) return '-'
  const f = BigInt(m.storageMax) - BigInt(m.repoSize)
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB']
  let v = Number(f)
  let u = 0
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++ }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`
}
