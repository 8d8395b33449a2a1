/**
 * SIGTERM with work in flight (issue #4, "Shutdown"): the hub stops accepting, lets a
 * request that is being answered finish, drains its member queues until
 * `hub.shutdown_timeout`, and exits by itself. What the deadline cut off stays in the store
 * as intents, and the next start drives it to the members.
 *
 * The slow member is a fault-injecting fake (every pin/add waits 1 s, one at a time), so
 * that a burst of background copies is still queued when the signal arrives.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import { startKuboMock, type KuboMock } from '../fixtures/kubo-mock.js'
import { startHubProcess } from '../fixtures/hub-processes.js'
import { getFreePorts } from '../fixtures/free-port.js'
import { rawCid } from '../fixtures/cids.js'
import { eventually } from '../fixtures/wait.js'
import type { ManagedProcess } from '../fixtures/processes.js'
import { SqlitePinStore } from '../../src/state/sqlite.js'

const SLOW_MS = 1_000
const BACKGROUND = 20

let dir: string
let fast: KuboMock
let slow: KuboMock
let hubUrl: string
let topologyFile: string
let hub: ManagedProcess | undefined

async function pinAdd (cid: string, name?: string): Promise<{ status: number, text: string }> {
  const q = new URLSearchParams({ arg: cid })
  if (name !== undefined) q.set('name', name)
  const res = await request(`${hubUrl}/api/v0/pin/add?${q.toString()}`, { method: 'POST' })
  return { status: res.statusCode, text: await res.body.text() }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-shutdown-'))
  fast = await startKuboMock({ name: 'fast' })
  slow = await startKuboMock({ name: 'slow' })
  const [port] = await getFreePorts(1)
  hubUrl = `http://127.0.0.1:${port}`
  topologyFile = join(dir, 'topology.yaml')
  await writeFile(topologyFile, `version: 1
hub:
  id: shutdown-hub
  listen: 127.0.0.1:${port}
  state: ${join(dir, 'state')}
  shutdown_timeout: 3s
  reconcile: { interval: 1s, retry_base: 200ms, retry_max: 1s }
defaults:
  replication: { min: 1, max: 2 }
  health: { interval: 1h }
members:
  - { name: fast, kind: kubo, url: ${fast.url} }
  - { name: slow, kind: kubo, url: ${slow.url}, concurrency: 1 }
placement:
  # Pins named only/* live on the slow member alone: their answer waits for it.
  - match: { name: "only/*" }
    members: { names: [slow] }
    replication: { min: 1, max: 1 }
passthrough: fast
`)
})

afterAll(async () => {
  await hub?.stop()
  await fast?.close()
  await slow?.close()
  await rm(dir, { recursive: true, force: true })
})

describe('SIGTERM drains, then leaves intents for the next start', () => {
  const [onlySlow, ...background] = Array.from({ length: BACKGROUND + 1 }, (_, i) => rawCid(`shutdown-${Date.now()}-${i}`).toString())

  it('answers the request in flight, exits by itself at the deadline, and keeps the rest as intents', async () => {
    hub = await startHubProcess(topologyFile, hubUrl)
    slow.setFault('pin/add', { kind: 'delay', ms: SLOW_MS })

    // First in the slow member's queue: answered only once the slow member pinned it.
    const inFlight = pinAdd(onlySlow, 'only/a')
    await sleep(100)
    // Acknowledged by the fast member; their second copies queue up behind, one at a time.
    const acked = await Promise.all(background.map(async cid => await pinAdd(cid)))
    for (const r of acked) expect(r.status, r.text).toBe(200)

    process.kill(hub.pid, 'SIGTERM')
    const answer = await inFlight
    expect(answer.status, answer.text).toBe(200)
    expect(JSON.parse(answer.text)).toEqual({ Pins: [onlySlow] })

    // The hub exits on its own (code 0) once the deadline cuts the queue short; the bound
    // here is only a liveness guard, far above shutdown_timeout.
    const exit = await hub.waitForExit({ timeoutMs: 20_000 })
    expect(exit.code, hub.describe()).toBe(0)
    hub = undefined

    const store = new SqlitePinStore(join(dir, 'state', 'pins.sqlite'))
    try {
      for (const cid of [onlySlow, ...background]) expect(await store.get(cid), cid).toBeDefined()
      const slowAllocations = await Promise.all(background.map(async cid => (await store.allocations(cid)).find(a => a.member === 'slow')))
      const pending = slowAllocations.filter(a => a !== undefined && a.status !== 'pinned')
      const pinned = slowAllocations.filter(a => a?.status === 'pinned')
      // 20 copies at 1 s each, one at a time, with a 3 s deadline: most were cut off...
      expect(pending.length).toBeGreaterThan(0)
      expect(pending.every(a => a !== undefined && ['queued', 'pinning', 'error'].includes(a.status))).toBe(true)
      // ...and what the store calls pinned is pinned on the member.
      for (const a of pinned) expect(slow.pins.has(a!.cid), a!.cid).toBe(true)
      for (const cid of background) expect(fast.pins.has(cid), cid).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('resumes the left-over intents on the next start', async () => {
    slow.clearFaults()
    hub = await startHubProcess(topologyFile, hubUrl)
    await eventually(async () => {
      for (const cid of [onlySlow, ...background]) expect(slow.pins.has(cid), cid).toBe(true)
    }, { timeoutMs: 30_000 })
    const res = await request(`${hubUrl}/supercluster/v1/status`)
    const status = await res.body.json() as { members: Array<{ name: string, pins: Record<string, number> }> }
    const slowCounts = status.members.find(m => m.name === 'slow')?.pins ?? {}
    expect(slowCounts).toEqual({ pinned: BACKGROUND + 1 })
  })
})
