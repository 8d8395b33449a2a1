/**
 * The hub over real Kubo daemons (`kind: kubo`) that cannot reach each other. An online
 * daemon asked to pin what it lacks searches the network until the deadline, so the hub
 * asks each member to pin with Kubo's `offline` option: the daemon holding the content
 * pins at once, the other fails fast, gets the DAG copied from the holder and pins it.
 * Kubo's pin/update ignores that option, so there the hub looks first (block/stat).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, startChild, startKubo, stopChild, waitFor, type Child, type KuboInfo } from './composite.js'
import { composite, kuboPins, rpc, uniqueText } from './helpers.js'
import { getFreePorts } from '../fixtures/free-port.js'

let dir: string
const children: Child[] = []
let x: KuboInfo
let y: KuboInfo
let hubUrl: string

beforeAll(async () => {
  const { bins } = composite()
  dir = await mkdtemp(join(tmpdir(), 'sc-interop-kubo-'))
  const started = await Promise.all(['kubo-x', 'kubo-y'].map(async n => await startKubo(bins, dir, n)))
  children.push(...started.map(s => s.child))
  ;[x, y] = started.map(s => s.info)
  const [port] = await getFreePorts(1)
  hubUrl = `http://127.0.0.1:${port}`
  // A deadline well inside the test's: a member left searching would fail the pin.
  const topology = join(dir, 'topology.yaml')
  await writeFile(topology, `version: 1
hub: { id: kubo-hub, listen: 127.0.0.1:${port}, state: ${join(dir, 'hub-state')} }
defaults:
  replication: { min: 2, max: 2 }
  timeout: 20s
  health: { interval: 1s, timeout: 5s, failures: 3 }
members:
  - { name: x, kind: kubo, url: ${x.api} }
  - { name: y, kind: kubo, url: ${y.api} }
passthrough: x
`)
  const hub = startChild('kubo-hub', process.execPath, [CLI, 'daemon', '--topology', topology, '--log-level', 'warn'], process.env, dir)
  children.push(hub)
  await waitFor(hub, 'hub answers version', async () => (await rpc(hubUrl, '/api/v0/version')).status === 200)
}, 120_000)

afterAll(async () => {
  await Promise.all(children.reverse().map(async c => { await stopChild(c) }))
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** Content added to one daemon only, unpinned: its CID. */
async function addTo (k: KuboInfo, label: string): Promise<string> {
  const boundary = 'kubo-members'
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n\r\n${uniqueText(label)}\r\n--${boundary}--\r\n`
  const added = await rpc(k.api, '/api/v0/add?pin=false', { body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } })
  expect(added.status, added.text).toBe(200)
  return (JSON.parse(added.text.trim().split('\n').at(-1)!) as { Hash: string }).Hash
}

describe('Kubo members', () => {
  let cid: string

  it('a pin of content one daemon holds lands on both: the other gets it copied, not searched for', async () => {
    cid = await addTo(x, 'held by x')
    expect((await rpc(y.api, `/api/v0/block/stat?arg=${cid}&offline=true`)).status).toBe(500) // y lacks it

    const pinned = await rpc(hubUrl, `/api/v0/pin/add?arg=${cid}`)
    expect(pinned.status, pinned.text).toBe(200)
    expect(JSON.parse(pinned.text)).toEqual({ Pins: [cid] })
    expect((await kuboPins(x.api)).get(cid)).toBe('recursive')
    expect((await kuboPins(y.api)).get(cid)).toBe('recursive')
    expect((await rpc(y.api, `/api/v0/block/stat?arg=${cid}&offline=true`)).status).toBe(200)
    const report = await rpc(hubUrl, `/supercluster/v1/pins/${cid}?live=false`, { method: 'GET' })
    const allocations = (JSON.parse(report.text) as { allocations: Array<{ member: string, status: string }> }).allocations
    expect(allocations.map(a => [a.member, a.status]).sort()).toEqual([['x', 'pinned'], ['y', 'pinned']])
  })

  it('pin/update to content one daemon holds moves both pins: the other gets it copied first', async () => {
    const to = await addTo(x, 'update target on x')
    const updated = await rpc(hubUrl, `/api/v0/pin/update?arg=${cid}&arg=${to}`)
    expect(updated.status, updated.text).toBe(200)
    expect(JSON.parse(updated.text)).toEqual({ Pins: [cid, to] })
    for (const k of [x, y]) {
      const pins = await kuboPins(k.api)
      expect(pins.get(to)).toBe('recursive')
      expect(pins.has(cid)).toBe(false)
    }
  })
})
