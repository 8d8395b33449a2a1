/**
 * The hub and IPFS Cluster in both directions:
 * - hub over clusters: what `ipfs add` through the hub placed is pinned on every peer of the
 *   chosen sub-cluster (its own `ipfs-cluster-ctl status` says so) and absent from the other;
 * - cluster over hub: a single-peer cluster whose IPFS daemon is the hub pins, reports
 *   and unpins through it, and the pins land on the hub's members.
 */
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { clusterCtl, type ClusterPeerInfo, type SubClusterInfo } from './composite.js'
import { composite, eventually, ipfsCli, kuboPins, makeTree, rpc, uniqueText } from './helpers.js'

interface PeerStatus { peername: string, status: string, error?: string }
interface GlobalStatus { cid: string, peer_map: Record<string, PeerStatus> }

const info = composite()

async function status (peer: ClusterPeerInfo, cid: string): Promise<GlobalStatus> {
  return JSON.parse(await clusterCtl(info, peer, ['status', cid])) as GlobalStatus
}

function statuses (s: GlobalStatus): string[] {
  return Object.values(s.peer_map).map(p => p.status).sort()
}

async function pinnedOnEveryPeer (sc: SubClusterInfo, cid: string): Promise<GlobalStatus> {
  return await eventually(`${cid} pinned on every peer of ${sc.name}`, async () => {
    const s = await status(sc.peers[0], cid)
    const st = statuses(s)
    return st.length === sc.peers.length && st.every(x => x === 'pinned') ? s : undefined
  })
}

async function hubHolders (cid: string): Promise<string[]> {
  const r = await rpc(info.hub.url, `/supercluster/v1/pins/${cid}`, { method: 'GET' })
  expect(r.status, r.text).toBe(200)
  const body = JSON.parse(r.text) as { allocations?: Array<{ member: string, status: string }> }
  return (body.allocations ?? []).filter(a => a.status === 'pinned').map(a => a.member).sort()
}

describe('hub over clusters', () => {
  it('ipfs add through the hub pins on every peer of the placed sub-cluster only', async () => {
    const tree = await makeTree({ 'placed.txt': uniqueText('placed') })
    const r = await ipfsCli(info.hub.addr, ['add', '-q', join(tree, 'placed.txt')])
    expect(r.code, r.stderr).toBe(0)
    const cid = r.stdout.trim()
    const holders = await hubHolders(cid)
    expect(holders).toHaveLength(1) // replication max 1 in the interop topology
    const placed = info.subClusters.find(sc => sc.name === holders[0])!
    const other = info.subClusters.find(sc => sc.name !== holders[0])!
    const s = await pinnedOnEveryPeer(placed, cid)
    expect(Object.keys(s.peer_map).sort()).toEqual(placed.peers.map(p => p.peerId).sort())
    for (const p of placed.peers) expect((await kuboPins(p.kubo!.api)).get(cid)).toBe('recursive')
    const o = await status(other.peers[0], cid)
    expect(statuses(o).every(x => x === 'unpinned')).toBe(true)
    for (const p of other.peers) expect((await kuboPins(p.kubo!.api)).has(cid)).toBe(false)
  })

  it('pin rm through the hub unpins the whole sub-cluster', async () => {
    const tree = await makeTree({ 'gone.txt': uniqueText('gone') })
    const r = await ipfsCli(info.hub.addr, ['add', '-q', join(tree, 'gone.txt')])
    const cid = r.stdout.trim()
    const [member] = await hubHolders(cid)
    const sc = info.subClusters.find(s => s.name === member)!
    await pinnedOnEveryPeer(sc, cid)
    const rm = await ipfsCli(info.hub.addr, ['pin', 'rm', cid])
    expect(rm.code, rm.stderr).toBe(0)
    expect(rm.stdout).toBe(`unpinned ${cid}\n`)
    await eventually(`${cid} unpinned in ${sc.name}`, async () => {
      const s = await status(sc.peers[0], cid)
      return statuses(s).every(x => x === 'unpinned') ? true : undefined
    })
  })
})

describe('cluster over hub', () => {
  it('ipfs-cluster-ctl pin add / status / pin rm through a cluster whose IPFS is the hub', async () => {
    // Content the hub's members have but nobody pinned yet.
    const tree = await makeTree({ 'c.txt': uniqueText('cluster over hub') })
    const added = await ipfsCli(info.hub.addr, ['add', '-q', '--pin=false', join(tree, 'c.txt')])
    expect(added.code, added.stderr).toBe(0)
    const cid = added.stdout.trim()

    const out = JSON.parse(await clusterCtl(info, info.clusterC, ['pin', 'add', '--wait', '--wait-timeout', '60s', cid])) as GlobalStatus
    expect(out.cid).toBe(cid)
    const s = await eventually('cluster c reports pinned', async () => {
      const st = await status(info.clusterC, cid)
      return statuses(st).every(x => x === 'pinned') ? st : undefined
    })
    expect(Object.keys(s.peer_map)).toEqual([info.clusterC.peerId])

    // It landed on one of the hub's members, and on every peer of that sub-cluster.
    const holders = await hubHolders(cid)
    expect(holders.length).toBeGreaterThanOrEqual(1)
    await pinnedOnEveryPeer(info.subClusters.find(sc => sc.name === holders[0])!, cid)
    const ls = await ipfsCli(info.hub.addr, ['pin', 'ls', cid])
    expect(ls.stdout).toBe(`${cid} recursive\n`)

    await clusterCtl(info, info.clusterC, ['pin', 'rm', '--wait', '--wait-timeout', '60s', cid])
    await eventually('the hub no longer lists it', async () => {
      const r = await ipfsCli(info.hub.addr, ['pin', 'ls', cid])
      return r.code !== 0 ? r : undefined
    })
    for (const sc of info.subClusters) {
      await eventually(`${cid} unpinned in ${sc.name}`, async () => statuses(await status(sc.peers[0], cid)).every(x => x === 'unpinned') ? true : undefined)
    }
  })
})
