/**
 * Live topology edits over real processes: a hub daemon in front of embedded member
 * processes, its topology file edited while it runs.
 *
 * - a member added and another removed (an atomic rename) in the middle of a 2k-pin
 *   burst: no request fails, no acknowledged pin is lost, the removed member's pins are
 *   re-placed and it holds none of them afterwards;
 * - an invalid edit is counted and ignored: same members, still serving;
 * - a file written in steps (a valid prefix with fewer members, then the rest; truncate
 *   then write) is applied once, whole: the generation moves by one;
 * - SIGHUP reloads a daemon that does not watch its file;
 * - `drain: true` moves a member's pins off it.
 * Waits are bounded; nothing asserts on how long anything took.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rename, rm, truncate, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent, request } from 'undici'
import type { ManagedProcess } from '../fixtures/processes.js'
import { CLI, pinCall, startHubProcess, startMember, untilAcknowledged, type MemberProcess } from '../fixtures/hub-processes.js'
import { importCar, rawBlocksCar, recursivePins } from '../fixtures/content.js'
import { getFreePorts } from '../fixtures/free-port.js'
import { until as untilDefined, type UntilOptions } from '../fixtures/wait.js'

/** Waits here run against a loaded daemon mid-burst: a minute unless said otherwise. */
const until = async <T>(what: string, fn: () => Promise<T | undefined>, opts: UntilOptions = {}): Promise<T> => await untilDefined(what, fn, { timeoutMs: 60_000, ...opts })

const run = promisify(execFile)
const PINS = 2_000
const MIN = 2

interface Status {
  topology: { generation: number }
  rebalance: { running: boolean, total: number, done: number, pending: number }
  members: Array<{ name: string, drain: boolean, removed: boolean, pins: Record<string, number> }>
}

let dir: string
let members: Record<string, MemberProcess>
let hubPort: number
let hubUrl: string
let hub: ManagedProcess
let file: string
let cids: string[]
let acked: string[] = []
let edits = 0
const agent = new Agent({ connections: 64, connect: { timeout: 2_000 } })

/** The hub's topology; members last, so a file cut after a member is still valid. */
function topology (names: string[], opts: { drain?: string, port?: number, id?: string, state?: string } = {}): string {
  return `version: 1
hub:
  id: ${opts.id ?? 'live-hub'}
  listen: 127.0.0.1:${opts.port ?? hubPort}
  state: ${opts.state ?? join(dir, 'hub')}
  shutdown_timeout: 5s
  reconcile: { interval: 1s, grace: 1h, retry_base: 200ms, retry_max: 2s }
  rebalance: { rate: 2000, drain_timeout: 2m }
defaults:
  replication: { min: ${MIN}, max: 2 }
  timeout: 20s
  connect_timeout: 1s
  health: { interval: 300ms, timeout: 1s, failures: 2 }
passthrough: a
members:
${names.map(n => `  - { name: ${n}, kind: kubo, url: ${members[n].url}${opts.drain === n ? ', drain: true' : ''} }\n`).join('')}`
}

/** Write the file the way careful editors do: a temporary file renamed over it. */
async function replaceFile (path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${++edits}`
  await writeFile(tmp, text)
  await rename(tmp, path)
}

async function status (url = hubUrl): Promise<Status> {
  const res = await request(`${url}/supercluster/v1/status`)
  return await res.body.json() as Status
}

async function metric (name: string, url = hubUrl): Promise<number> {
  const text = await (await request(`${url}/metrics`)).body.text()
  const line = text.split('\n').find(l => l.startsWith(name + ' '))
  return line === undefined ? 0 : Number(line.slice(name.length + 1))
}

async function generation (url = hubUrl): Promise<number> {
  return (await status(url)).topology.generation
}

/** Every acknowledged pin is listed by the hub and held by at least `min` of `holders`. */
async function everyPinHeld (holders: string[]): Promise<string[]> {
  const sets = await Promise.all(holders.map(async n => await recursivePins(members[n].url)))
  return acked.filter(c => sets.filter(s => s.has(c)).length < MIN)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-live-'))
  const ports = await getFreePorts(5)
  hubPort = ports[0]
  hubUrl = `http://127.0.0.1:${hubPort}`
  const list = await Promise.all(['a', 'b', 'c', 'd'].map(async (n, i) => await startMember(dir, n, ports[i + 1])))
  members = Object.fromEntries(list.map(m => [m.name, m]))
  const content = await rawBlocksCar(PINS, dir)
  cids = content.cids
  await Promise.all(list.map(async m => { await importCar(m.url, content.car) }))
  file = join(dir, 'topology.yaml')
  await writeFile(file, topology(['a', 'b', 'c']))
  hub = await startHubProcess(file, hubUrl, { args: ['--reload-settle', '1s'] })
}, 120_000)

afterAll(async () => {
  await hub?.stop()
  await Promise.all(Object.values(members ?? {}).map(async m => await m.proc.stop()))
  await agent.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('live topology', () => {
  it('adds and removes members during a pin burst without failing a request or losing a pin', async () => {
    let next = 0
    let done = 0
    const failures: string[] = []
    const ok = new Set<string>()
    const worker = async (): Promise<void> => {
      while (next < cids.length) {
        const cid = cids[next++]
        const first = await pinCall(hubUrl, 'pin/add', cid, agent)
        if (first.status !== 200) failures.push(`${cid}: ${first.status} ${first.message}`)
        if (first.status === 200 || await untilAcknowledged('pin/add', cid, () => hubUrl, agent)) ok.add(cid)
        done++
      }
    }
    const edit = (async () => {
      while (done < PINS * 0.3) await sleep(20)
      await replaceFile(file, topology(['a', 'b', 'd'])) // c leaves, d joins
      await until('the edit is applied', async () => (await generation()) === 2 ? true : undefined)
      return done
    })()
    const [appliedAfter] = await Promise.all([edit, ...Array.from({ length: 24 }, worker)])
    expect(appliedAfter, 'the edit landed while the burst ran').toBeLessThan(PINS)
    acked = cids.filter(c => ok.has(c))
    expect(failures.slice(0, 5), `${failures.length} requests failed`).toEqual([])
    expect(acked.length).toBe(PINS)

    // c's pins got copies on a, b and d, then were unpinned from c, which then retired.
    await until('every pin on min members of the new topology, none left on c', async () => {
      const short = await everyPinHeld(['a', 'b', 'd'])
      const onC = await recursivePins(members.c.url)
      return short.length === 0 && !acked.some(cid => onC.has(cid)) ? true : undefined
    }, { timeoutMs: 120_000 })
    await until('c retired', async () => (await status()).members.some(m => m.name === 'c') ? undefined : true)
    const s = await status()
    expect(s.members.map(m => m.name).sort()).toEqual(['a', 'b', 'd'])
    expect(s.rebalance.done).toBeGreaterThan(0)
    expect(await metric('supercluster_rebalance_moves_total')).toBeGreaterThan(0)
    const onD = await recursivePins(members.d.url)
    expect(acked.some(cid => onD.has(cid))).toBe(true)

    const got = await recursivePins(hubUrl)
    expect(acked.filter(c => !got.has(c))).toEqual([])

    const printed = (await run(process.execPath, [CLI, 'status', '--api', hubUrl])).stdout
    expect(printed).toMatch(/^hub live-hub, topology generation 2\nrebalance: \w+.*, \d+\/\d+ moved, \d+ pending\n/)
  }, 240_000)

  it('ignores and counts an invalid edit, and keeps serving with the old members', async () => {
    const before = await generation()
    await replaceFile(file, topology(['a', 'b', 'd']).replace('min: 2, max: 2', 'min: 3, max: 2'))
    await until('the invalid edit is counted', async () => (await metric('supercluster_topology_reloads_total{result="invalid"}')) === 1 ? true : undefined)
    expect(await generation()).toBe(before)
    expect((await status()).members.map(m => m.name).sort()).toEqual(['a', 'b', 'd'])
    expect(hub.stderr()).toMatch(/topology\.yaml:\d+:\d+ defaults\.replication/)
    expect((await pinCall(hubUrl, 'pin/rm', acked[0], agent)).status).toBe(200)
    expect((await pinCall(hubUrl, 'pin/add', acked[0], agent)).status).toBe(200)
    // Putting the running content back is no change at all.
    await replaceFile(file, topology(['a', 'b', 'd']))
  }, 60_000)

  it('never applies a half-written file: a valid prefix completed in time, or truncate then write', async () => {
    const okBefore = await metric('supercluster_topology_reloads_total{result="ok"}')
    const invalidBefore = await metric('supercluster_topology_reloads_total{result="invalid"}')
    const before = await generation()
    // Cut after the second of three members: valid, and it would remove d.
    const full = topology(['a', 'b', 'd']).replace('retry_max: 2s', 'retry_max: 3s')
    const cut = full.indexOf('  - { name: d')
    await writeFile(file, full.slice(0, cut))
    await sleep(50)
    await appendFile(file, full.slice(cut))
    await until('the completed file is applied', async () => (await generation()) > before ? true : undefined)
    await sleep(1_500) // one more settle interval: nothing else may follow
    expect(await generation()).toBe(before + 1)
    expect((await status()).members.map(m => m.name).sort()).toEqual(['a', 'b', 'd'])

    await truncate(file, 0)
    await sleep(50)
    await writeFile(file, full.replace('retry_max: 3s', 'retry_max: 4s'))
    await until('the rewritten file is applied', async () => (await generation()) > before + 1 ? true : undefined)
    await sleep(1_500)
    expect(await generation()).toBe(before + 2)
    expect(await metric('supercluster_topology_reloads_total{result="ok"}')).toBe(okBefore + 2)
    expect(await metric('supercluster_topology_reloads_total{result="invalid"}')).toBe(invalidBefore)
    expect(await metric('supercluster_topology_generation')).toBe(before + 2)
  }, 60_000)

  it('moves the pins of a member set to drain', async () => {
    const onB = await recursivePins(members.b.url)
    expect(acked.some(cid => onB.has(cid))).toBe(true)
    await replaceFile(file, topology(['a', 'b', 'd'], { drain: 'b' }).replace('retry_max: 2s', 'retry_max: 4s'))
    await until('b drains', async () => {
      const s = await status()
      return s.members.find(m => m.name === 'b')?.drain === true ? true : undefined
    })
    await until('no pin left on b, every pin on a and d', async () => {
      const held = await Promise.all(['a', 'd'].map(async n => await recursivePins(members[n].url)))
      const left = await recursivePins(members.b.url)
      return acked.every(cid => held.every(s => s.has(cid)) && !left.has(cid)) ? true : undefined
    }, { timeoutMs: 120_000 })
    // New pins skip b.
    const fresh = cids.slice(0, 3)
    for (const cid of fresh) {
      expect((await pinCall(hubUrl, 'pin/rm', cid, agent)).status).toBe(200)
      expect((await pinCall(hubUrl, 'pin/add', cid, agent)).status).toBe(200)
    }
    const left = await recursivePins(members.b.url)
    expect(fresh.filter(cid => left.has(cid))).toEqual([])
  }, 180_000)

  it('reloads on SIGHUP when the daemon does not watch its file', async () => {
    const port = (await getFreePorts(1))[0]
    const url = `http://127.0.0.1:${port}`
    const other = join(dir, 'sighup.yaml')
    const opts = { port, id: 'sighup-hub', state: join(dir, 'sighup-hub') }
    await writeFile(other, topology(['a', 'b'], opts))
    const proc = await startHubProcess(other, url, { name: 'sighup-hub', args: ['--no-watch'] })
    try {
      expect(await generation(url)).toBe(1)
      await replaceFile(other, topology(['a', 'b', 'd'], opts))
      process.kill(proc.pid, 'SIGHUP')
      await until('SIGHUP applied the file', async () => (await generation(url)) === 2 ? true : undefined, { timeoutMs: 20_000 })
      expect((await status(url)).members.map(m => m.name).sort()).toEqual(['a', 'b', 'd'])
      expect(await metric('supercluster_topology_reloads_total{result="ok"}', url)).toBe(1)
    } finally {
      await proc.stop()
    }
  }, 60_000)
})
