/**
 * @module cli/pins
 * `supercluster pins status CID` (one pin: desired placement and each member's live
 * status, with the members of hubs below indented under them) and `supercluster pins
 * import --member NAME` (adopt a member's unknown pins, with a progress bar on a
 * terminal). Both talk to a running hub's admin API.
 */
import type { Command } from 'commander'
import cliProgress from 'cli-progress'
import { hubRequest } from './auth.js'
import { table } from './table.js'
import type { PinReport } from '../hub/pin-status.js'


/** One table row per allocation; a hub member's own allocations follow it, indented. */
function statusRows (r: PinReport, depth = 0): string[][] {
  return r.allocations.flatMap(a => {
    const live = r.live?.[a.member]
    const peers = live?.peers !== undefined ? Object.entries(live.peers).map(([p, s]) => `${p}=${s}`).join(' ') : ''
    const row = [`${'  '.repeat(depth)}${a.member}`, a.status, live?.status ?? '-', String(a.attempts), peers, live?.error ?? a.error ?? live?.hubError ?? '']
    return [row, ...(live?.hub !== undefined ? statusRows(live.hub, depth + 1) : [])]
  })
}

export function registerPinsCommands (program: Command): void {
  const pins = program.command('pins').description("a running hub's pins")

  pins.command('status')
    .description('one pin: its desired placement and what each member holds right now (the members of hubs below, indented under them)')
    .argument('<cid>')
    .option('--api <url>', 'the hub', 'http://127.0.0.1:5001')
    .option('--json', 'print JSON instead of a table')
    .action(async (cid: string, opts: { api: string, json?: boolean }) => {
      const res = await hubRequest(opts.api, `/supercluster/v1/pins/${encodeURIComponent(cid)}`, { ok: [200, 404] })
      const text = await res.body.text()
      if (res.statusCode === 404) throw new Error(`${cid} is not pinned on this hub`)
      const r = JSON.parse(text) as PinReport
      if (opts.json === true) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n')
        return
      }
      const rows = statusRows(r)
      const head = ['MEMBER', 'HUB STATUS', 'LIVE', 'ATTEMPTS', 'PEERS', 'ERROR']
      process.stdout.write(`${r.cid} ${r.mode}${r.name !== '' ? ` "${r.name}"` : ''} ${r.state}, replication ${r.replicationMin}..${r.replicationMax}\n`)
      process.stdout.write(table(head, rows))
    })

  pins.command('import')
    .description('adopt the pins a member holds that the hub does not know')
    .requiredOption('--member <name>', 'the member whose pins to adopt')
    .option('--api <url>', 'the hub', 'http://127.0.0.1:5001')
    .action(async (opts: { member: string, api: string }) => {
      const res = await hubRequest(opts.api, `/supercluster/v1/import?member=${encodeURIComponent(opts.member)}`, { method: 'POST' })
      const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'scanned {value} pins, adopted {adopted}', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined
      bar?.start(0, 0, { adopted: 0 })
      let buffered = ''
      let summary: { Scanned: number, Adopted: number, Known: number } | undefined
      for await (const chunk of res.body) {
        buffered += chunk.toString()
        let nl: number
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const v = JSON.parse(buffered.slice(0, nl)) as { Scanned?: number, Adopted?: number, Known?: number, Done?: boolean, Message?: string, Type?: string }
          buffered = buffered.slice(nl + 1)
          if (v.Type === 'error') { bar?.stop(); throw new Error(v.Message) }
          bar?.setTotal(v.Scanned ?? 0)
          bar?.update(v.Scanned ?? 0, { adopted: v.Adopted ?? 0 })
          if (v.Done === true) summary = { Scanned: v.Scanned ?? 0, Adopted: v.Adopted ?? 0, Known: v.Known ?? 0 }
        }
      }
      bar?.stop()
      if (summary === undefined) throw new Error('the hub ended the import without a summary')
      process.stdout.write(`${opts.member}: scanned ${summary.Scanned} pins, adopted ${summary.Adopted}, already known ${summary.Known}\n`)
    })
}
