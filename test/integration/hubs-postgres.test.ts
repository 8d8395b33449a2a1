/**
 * Two hub processes with one topology file and one PostgreSQL serve one pinset in front
 * of three embedded members: a pin made on one is listed and unpinned by the other;
 * exactly one runs the reconciler; when that one is killed with SIGKILL mid-burst, the
 * other takes the reconciler over within seconds and finishes what was left, so every
 * acknowledged pin reaches `max` copies and no acknowledged unpin comes back.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Agent, request } from 'undici'
import type { ManagedProcess } from '../fixtures/processes.js'
import { pinCall, startHubProcess, startMember, untilAcknowledged } from '../fixtures/hub-processes.js'
import { getFreePorts } from '../fixtures/free-port.js'
import { startPostgres, type PostgresServer } from '../fixtures/postgres.js'
import { importCar, rawBlocksCar, recursivePins, settledPins } from '../fixtures/content.js'

const PINS = 1_500

interface Hub { id: string, port: number, url: string, proc: ManagedProcess }
let dir: string
let pgServer: PostgresServer
let stateUrl: string
let topologyFile: string
let memberUrls: string[]
let memberProcs: ManagedProcess[]
let hubs: Hub[]
const agent = new Agent({ connections: 64, connect: { timeout: 2_000 } })

async function startHub (id: string, port: number): Promise<Hub> {
  const url = `http://127.0.0.1:${port}`
  const proc = await startHubProcess(topologyFile, url, { name: id, env: { HUB_ID: id, HUB_PORT: String(port), STATE_URL: stateUrl } })
  return { id, port, url, proc }
}

async function isLeader (h: Hub): Promise<boolean> {
  try {
    const text = await (await request(`${h.url}/metrics`)).body.text()
    return /^supercluster_reconciler_leader 1$/m.test(text)
  } catch {
    return false
  }
}

/** A client behind a load balancer: tries the hubs in turn until one acknowledges. */
async function acknowledged (command: 'pin/add' | 'pin/rm', cid: string, first: number): Promise<boolean> {
  return await untilAcknowledged(command, cid, attempt => hubs[(first + attempt) % hubs.length].url, agent, 50)
}

async function call (url: string, command: 'pin/add' | 'pin/rm', cid: string): Promise<{ status: number, message: string }> {
  return await pinCall(url, command, cid, agent)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-hubs-pg-'))
  pgServer = await startPostgres()
  stateUrl = await pgServer.createDatabase('pinset')
  const ports = await getFreePorts(5)
  memberProcs = []
  memberUrls = []
  for (const [i, n] of ['a', 'b', 'c'].entries()) {
    const m = await startMember(dir, n, ports[i + 2])
    memberProcs.push(m.proc)
    memberUrls.push(m.url)
  }
  topologyFile = join(dir, 'topology.yaml')
  await writeFile(topologyFile, `version: 1
hub:
  id: \${HUB_ID}
  listen: 127.0.0.1:\${HUB_PORT}
  state: \${STATE_URL}
  shutdown_timeout: 5s
  reconcile: { interval: 2s, grace: 1h, retry_base: 200ms, retry_max: 2s }
defaults:
  replication: { min: 1, max: 2 }
  timeout: 20s
  connect_timeout: 1s
  health: { interval: 500ms, timeout: 1s, failures: 2 }
members:
${['a', 'b', 'c'].map((n, i) => `  - { name: ${n}, kind: kubo, url: ${memberUrls[i]} }\n`).join('')}passthrough: a
`)
  hubs = [await startHub('hub-1', ports[0]), await startHub('hub-2', ports[1])]
}, 90_000)

afterAll(async () => {
  await Promise.all((hubs ?? []).map(async h => await h.proc.stop()))
  await Promise.all((memberProcs ?? []).map(async p => await p.stop()))
  await pgServer?.stop()
  await agent.close()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('two hubs on one PostgreSQL', () => {
  it('share one pinset; one reconciler, which moves when its hub is killed mid-burst', async () => {
    const { cids, car } = await rawBlocksCar(PINS, dir)
    await Promise.all(memberUrls.map(async u => { await importCar(u, car) }))

    // Exactly one leader.
    const leaders = async (): Promise<Hub[]> => (await Promise.all(hubs.map(async h => (await isLeader(h)) ? h : undefined))).filter((h): h is Hub => h !== undefined)
    const first = await (async () => {
      for (let i = 0; i < 100; i++) {
        const l = await leaders()
        if (l.length === 1) return l[0]
        await sleep(100)
      }
      throw new Error('no single reconciler leader')
    })()

    // A pin made on one hub is listed and unpinned by the other.
    expect((await call(hubs[0].url, 'pin/add', cids[0])).status).toBe(200)
    const ls = await request(`${hubs[1].url}/api/v0/pin/ls?arg=${cids[0]}`, { method: 'POST' })
    expect(await ls.body.text()).toContain(cids[0])
    expect((await call(hubs[1].url, 'pin/rm', cids[0])).status).toBe(200)
    expect((await call(hubs[0].url, 'pin/rm', cids[0])).message).toMatch(/not pinned/)

    const acked = new Set<string>()
    const unpinned = new Set<string>([cids[0]])
    let next = 1
    let done = 0
    const worker = async (w: number): Promise<void> => {
      while (next < cids.length) {
        const i = next++
        if (await acknowledged('pin/add', cids[i], w)) acked.add(cids[i])
        if (i % 10 === 0 && acked.has(cids[i]) && await acknowledged('pin/rm', cids[i], w + 1)) unpinned.add(cids[i])
        done++
      }
    }
    let tookOverMs = -1
    const chaos = (async () => {
      while (done < PINS * 0.4) await sleep(20)
      process.kill(first.proc.pid, 'SIGKILL')
      const killedAt = Date.now()
      await first.proc.waitForExit()
      const other = hubs.find(h => h !== first)!
      while (!await isLeader(other)) {
        if (Date.now() - killedAt > 30_000) throw new Error('the surviving hub never took the reconciler over')
        await sleep(100)
      }
      tookOverMs = Date.now() - killedAt
      hubs = [other] // the load balancer drops the dead one
    })()
    await Promise.all([...Array.from({ length: 24 }, async (_, w) => { await worker(w) }), chaos])
    expect(tookOverMs).toBeGreaterThanOrEqual(0)
    expect(tookOverMs).toBeLessThan(15_000)
    expect(acked.size).toBe(PINS - 1)

    const wanted = new Set([...acked].filter(c => !unpinned.has(c)))
    const { short, back } = await settledPins(memberUrls, wanted, unpinned, 2)
    expect(short.slice(0, 5), `${short.length} acknowledged pins below max`).toEqual([])
    expect(back.slice(0, 5), `${back.length} unpinned CIDs came back`).toEqual([])
    const got = await recursivePins(hubs[0].url)
    expect(got.size).toBe(wanted.size)
  }, 240_000)
})
