/**
 * Integration over real sockets: three levels of hubs. A top hub has two hubs below it
 * (each over two embedded member processes) and one of those members directly as well,
 * so one store is reachable by two paths. Driven by kubo-rpc-client at the top; every
 * result is checked on the members themselves. Needs the compiled CLI (`npm test` builds).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { create, type KuboRPCClient } from 'kubo-rpc-client'
import { request } from 'undici'
import type { ManagedProcess } from '../fixtures/processes.js'
import { spawnNode } from '../fixtures/processes.js'
import { CLI, startHubProcess, startMember, type MemberProcess } from '../fixtures/hub-processes.js'
import { getFreePorts } from '../fixtures/free-port.js'
import { holders } from '../fixtures/content.js'
import { collect, eventually } from '../fixtures/wait.js'

interface Hub { id: string, url: string, file: string, proc?: ManagedProcess }

let dir: string
let leaves: MemberProcess[]
let top: Hub
let mids: Hub[]
let client: KuboRPCClient

function topologyYaml (id: string, url: string, members: Array<{ name: string, kind: string, url: string }>, replication: number): string {
  return `version: 1
hub:
  id: ${id}
  listen: ${new URL(url).host}
  state: ${join(dir, id)}
  shutdown_timeout: 5s
defaults:
  replication: { min: ${replication}, max: ${replication} }
  timeout: 30s
  health: { interval: 1s, timeout: 2s, failures: 2 }
members:
${members.map(m => `  - name: ${m.name}\n    kind: ${m.kind}\n    url: ${m.url}\n`).join('')}`
}

async function pinReport (hubUrl: string, cid: string): Promise<{ allocations: Array<{ member: string }>, live: Record<string, { status: string, hub?: { allocations: Array<{ member: string }>, live: Record<string, { status: string }> } }> }> {
  const res = await request(`${hubUrl}/supercluster/v1/pins/${cid}`)
  expect(res.statusCode).toBe(200)
  return await res.body.json() as never
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-hier-'))
  const ports = await getFreePorts(7)
  leaves = await Promise.all(['e1', 'e2', 'e3', 'e4'].map(async (n, i) => await startMember(dir, n, ports[i])))
  const [e1, e2, e3, e4] = leaves
  const kubo = (m: MemberProcess): { name: string, kind: string, url: string } => ({ name: m.name, kind: 'kubo', url: m.url })
  mids = [
    { id: 'mid-b', url: `http://127.0.0.1:${ports[4]}`, file: join(dir, 'mid-b.yaml') },
    { id: 'mid-c', url: `http://127.0.0.1:${ports[5]}`, file: join(dir, 'mid-c.yaml') },
  ]
  top = { id: 'top', url: `http://127.0.0.1:${ports[6]}`, file: join(dir, 'top.yaml') }
  await writeFile(mids[0].file, topologyYaml('mid-b', mids[0].url, [kubo(e1), kubo(e2)], 2))
  await writeFile(mids[1].file, topologyYaml('mid-c', mids[1].url, [kubo(e3), kubo(e4)], 2))
  // e1 is a member of the top hub and of mid-b: one store, two paths.
  await writeFile(top.file, topologyYaml('top', top.url, [
    { name: 'b', kind: 'hub', url: mids[0].url }, { name: 'c', kind: 'hub', url: mids[1].url }, kubo(e1),
  ], 3))
  await Promise.all(mids.map(async h => { h.proc = await startHubProcess(h.file, h.url, { name: h.id }) }))
  top.proc = await startHubProcess(top.file, top.url, { name: 'top' })
  client = create({ url: top.url })
}, 90_000)

afterAll(async () => {
  await top?.proc?.stop()
  await Promise.all((mids ?? []).map(async h => await h.proc?.stop()))
  await Promise.all((leaves ?? []).map(async m => await m.proc.stop()))
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('three levels of hubs, via kubo-rpc-client at the top', () => {
  let added: string

  it('adds through both levels: every store below holds the pin', async () => {
    const r = await client.add('hello hierarchy\n')
    added = r.cid.toString()
    expect((await holders(leaves, added)).sort()).toEqual(['e1', 'e2', 'e3', 'e4'])
    for (const h of [top, ...mids]) expect((await collect(create({ url: h.url }).pin.ls({ paths: [r.cid] }))).map(p => p.type)).toEqual(['recursive'])
  })

  it('pins content only one store has, copied down each level', async () => {
    const only = await create({ url: leaves[2].url }).add('only on e3\n', { pin: false })
    const pinned = await client.pin.add(only.cid)
    expect(pinned.toString()).toBe(only.cid.toString())
    await eventually(async () => { expect((await holders(leaves, only.cid.toString())).sort()).toEqual(['e1', 'e2', 'e3', 'e4']) })

    const removed = await client.pin.rm(only.cid)
    expect(removed.toString()).toBe(only.cid.toString())
    await eventually(async () => { expect(await holders(leaves, only.cid.toString())).toEqual([]) })
    for (const h of [top, ...mids]) expect((await collect(create({ url: h.url }).pin.ls())).map(p => p.cid.toString())).not.toContain(only.cid.toString())
  })

  it('lists only its own pins at each level', async () => {
    const belowOnly = await create({ url: mids[1].url }).add('pinned at mid-c only\n')
    const atTop = (await collect(client.pin.ls({ type: 'recursive' }))).map(p => p.cid.toString())
    expect(atTop).toContain(added)
    expect(atTop).not.toContain(belowOnly.cid.toString())
    expect((await collect(create({ url: mids[1].url }).pin.ls({ type: 'recursive' }))).map(p => p.cid.toString())).toContain(belowOnly.cid.toString())
  })

  it('sums repo/stat over distinct stores: the one reachable twice counts once', async () => {
    await eventually(async () => {
      let size = 0n
      let max = 0n
      let objects = 0n
      for (const m of leaves) {
        const s = await create({ url: m.url }).repo.stat()
        size += s.repoSize
        max += s.storageMax
        objects += s.numObjects
      }
      const atTop = await client.repo.stat()
      expect(atTop.repoSize).toBe(size)
      expect(atTop.storageMax).toBe(max)
      expect(atTop.numObjects).toBe(objects)
    })
    // The client gets Kubo's fields only; a hub asking gets the leaves it needs.
    const plain = await (await request(`${top.url}/api/v0/repo/stat`, { method: 'POST' })).body.json() as Record<string, unknown>
    expect(Object.keys(plain)).toEqual(['RepoSize', 'StorageMax', 'NumObjects', 'RepoPath', 'Version'])
    const asHub = await (await request(`${mids[0].url}/api/v0/repo/stat`, { method: 'POST', headers: { 'x-supercluster-via': 'someone' } })).body.json() as { SuperclusterLeaves: Array<{ Id: string }> }
    expect(asHub.SuperclusterLeaves.map(l => l.Id)).toHaveLength(2)
    for (const l of asHub.SuperclusterLeaves) expect(l.Id).toMatch(/^12D3KooW/)
  })

  it('reports a pin per member at each level, the lower hubs\' members nested', async () => {
    const atTop = await pinReport(top.url, added)
    expect(atTop.allocations.map(a => a.member).sort()).toEqual(['b', 'c', 'e1'])
    expect(atTop.live.e1.status).toBe('pinned')
    expect(atTop.live.e1.hub).toBeUndefined()
    expect(atTop.live.b.hub?.allocations.map(a => a.member).sort()).toEqual(['e1', 'e2'])
    expect(atTop.live.c.hub?.allocations.map(a => a.member).sort()).toEqual(['e3', 'e4'])
    expect(atTop.live.c.hub?.live.e3.status).toBe('pinned')
    const atB = await pinReport(mids[0].url, added)
    expect(Object.keys(atB.live).sort()).toEqual(['e1', 'e2'])

    const cli = await spawnNode(CLI, ['pins', 'status', added, '--api', top.url], { name: 'pins-status' })
    expect((await cli.waitForExit({ timeoutMs: 20_000 })).code).toBe(0)
    const lines = cli.stdout().split('\n')
    const b = lines.findIndex(l => l.startsWith('b '))
    expect(lines[b + 1]).toMatch(/^ {2}e[12] +pinned +pinned/)
    expect(lines.filter(l => /^ {2}e\d /.test(l))).toHaveLength(4)
  })

  it('shows the copies a pin gets through the levels', async () => {
    const cli = await spawnNode(CLI, ['topology', 'show', top.file], { name: 'topology-show' })
    expect((await cli.waitForExit({ timeoutMs: 20_000 })).code).toBe(0)
    expect(cli.stdout()).toContain('copies           replication 3..3 here × hubs "b", "c" 2..2 or 1 on e1 → 5..5 copies')
    const offline = await spawnNode(CLI, ['topology', 'show', '--offline', top.file], { name: 'topology-show' })
    expect((await offline.waitForExit({ timeoutMs: 20_000 })).code).toBe(0)
    expect(offline.stdout()).toContain('hubs "b", "c" unknown (not asked: --offline) or 1 on e1 → unknown')
  })
})
