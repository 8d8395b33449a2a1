/**
 * @module test/interop/composite
 * The real composite setup the interop suite runs against, on 127.0.0.1 only, built from
 * the binaries scripts/interop/install.sh put in its cache:
 *
 *   reference Kubo           a lone daemon: what "direct" answers are compared with
 *   sub-cluster a, b         two IPFS Cluster peers each, every peer with its own Kubo;
 *                            the two Kubo daemons of a sub-cluster swarm-connected so
 *                            cluster pins replicate between them
 *   hub                      `supercluster daemon`, members = the two sub-clusters' proxies
 *   cluster c                one cluster peer whose IPFS daemon is the hub
 *
 * Everything is configured offline before its first start (Kubo: test profile, Routing
 * none, no AutoConf/AutoTLS/telemetry, TCP swarm on loopback; Cluster: loopback listeners,
 * generated secret, no mDNS, no relay, no bootstrap outside the sub-cluster), gets ports
 * chosen at run time, runs in its own process group and is stopped by PID, also when the
 * test process exits abruptly.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { getFreePorts } from '../fixtures/free-port.js'

export interface Binaries {
  ipfs: string
  clusterService: string
  clusterCtl: string
  kuboVersion: string
  clusterVersion: string
}

export interface KuboInfo { name: string, api: string, apiAddr: string, swarmAddr: string, peerId: string, repo: string }
export interface ClusterPeerInfo { name: string, peerId: string, proxy: string, rest: string, restAddr: string, kubo?: KuboInfo }
export interface SubClusterInfo { name: string, peers: ClusterPeerInfo[] }

/** What the tests get (plain data: it crosses from vitest's global setup to the test files). */
export interface CompositeInfo {
  dir: string
  bins: Binaries
  reference: KuboInfo
  subClusters: SubClusterInfo[]
  hub: { url: string, addr: string, topology: string, id: string }
  clusterC: ClusterPeerInfo
}

const CACHE = process.env.SUPERCLUSTER_INTEROP_CACHE ?? join(homedir(), '.cache', 'supercluster-interop')
export const CLI = resolve('dist/src/cli/main.js')

/** Reads the paths install.sh recorded; one clear line when it has not run. */
export function loadBinaries (): Binaries {
  const file = join(CACHE, 'paths.env')
  if (!existsSync(file)) throw new Error(`interop: ${file} is missing: run scripts/interop/install.sh first`)
  const env = Object.fromEntries(readFileSync(file, 'utf8').split('\n').filter(l => l.includes('='))
    .map(l => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const bins = {
    ipfs: env.IPFS_BIN,
    clusterService: env.CLUSTER_SERVICE_BIN,
    clusterCtl: env.CLUSTER_CTL_BIN,
    kuboVersion: env.KUBO_VERSION,
    clusterVersion: env.CLUSTER_VERSION,
  }
  for (const [k, v] of Object.entries(bins)) {
    if (v === undefined || v === '') throw new Error(`interop: ${file} has no ${k}`)
    if (k !== 'kuboVersion' && k !== 'clusterVersion' && !existsSync(v)) throw new Error(`interop: ${v} is missing: run scripts/interop/install.sh`)
  }
  return bins
}

/** Environment for every Go process: no telemetry, no tracking, repo paths never defaulted. */
function goEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, IPFS_TELEMETRY: 'off', DO_NOT_TRACK: '1', GOLOG_LOG_LEVEL: 'error', ...extra }
}

// ---------------------------------------------------------------------------------------
// Processes

export interface Child { name: string, proc: ChildProcess, log: string, output: () => string }
const live = new Set<Child>()
let hooked = false

function killGroup (pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal) } catch { try { process.kill(pid, signal) } catch {} }
}

function hookExit (): void {
  if (hooked) return
  hooked = true
  process.on('exit', () => { for (const c of live) if (c.proc.pid !== undefined) killGroup(c.proc.pid, 'SIGKILL') })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => { for (const c of live) if (c.proc.pid !== undefined) killGroup(c.proc.pid, 'SIGKILL'); process.exit(130) })
  }
}

export function startChild (name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, logDir: string): Child {
  hookExit()
  const log = join(logDir, `${name}.log`)
  const out = createWriteStream(log)
  const proc = spawn(cmd, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let tail = ''
  const take = (b: Buffer): void => {
    out.write(b)
    tail = (tail + b.toString()).slice(-64 * 1024)
  }
  proc.stdout?.on('data', take)
  proc.stderr?.on('data', take)
  const child: Child = { name, proc, log, output: () => tail }
  live.add(child)
  proc.once('exit', () => { live.delete(child); out.end() })
  return child
}

export async function stopChild (c: Child, graceMs = 5000): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null || c.proc.pid === undefined) return
  const exited = new Promise<void>(resolve => c.proc.once('exit', () => resolve()))
  killGroup(c.proc.pid, 'SIGTERM')
  const timer = setTimeout(() => { if (c.proc.pid !== undefined) killGroup(c.proc.pid, 'SIGKILL') }, graceMs)
  await exited
  clearTimeout(timer)
}

export async function waitFor (c: Child, what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) {
      throw new Error(`interop: ${c.name} exited (${c.proc.exitCode ?? c.proc.signalCode}) before ${what}; its log ${c.log}:\n${c.output().slice(-4000)}`)
    }
    try { if (await check()) return } catch {}
    await sleep(100)
  }
  throw new Error(`interop: ${c.name} did not reach "${what}" in ${timeoutMs} ms; its log ${c.log}:\n${c.output().slice(-4000)}`)
}

/** Runs a command to completion; rejects with its output on a non-zero exit. */
export async function run (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: string): Promise<{ stdout: string, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
    p.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
    p.once('error', reject)
    p.once('close', (code) => {
      if (code === 0) resolve({ stdout, stderr })
      else reject(Object.assign(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim() || stdout.trim()}`), { code, stdout, stderr }))
    })
    p.stdin.end(input)
  })
}

async function post (url: string): Promise<{ status: number, text: string }> {
  const res = await request(url, { method: 'POST' })
  return { status: res.statusCode, text: await res.body.text() }
}

// ---------------------------------------------------------------------------------------
// Kubo

/** Start a Kubo daemon; one that exits before it is ready (a port taken meanwhile) is set up again, twice at most. */
export async function startKubo (bins: Binaries, dir: string, name: string): Promise<{ info: KuboInfo, child: Child }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKuboOnce(bins, dir, name)
    } catch (err) {
      if (attempt >= 3 || !/exited/.test((err as Error).message)) throw err
      process.stderr.write(`interop: ${name} exited before it was ready (attempt ${attempt}); setting it up again on new ports\n${(err as Error).message.slice(-1500)}\n`)
      await rm(join(dir, name), { recursive: true, force: true })
    }
  }
}

async function startKuboOnce (bins: Binaries, dir: string, name: string): Promise<{ info: KuboInfo, child: Child }> {
  const repo = join(dir, name)
  const env = goEnv({ IPFS_PATH: repo })
  await run(bins.ipfs, ['init', '--profile=test', '--empty-repo'], env)
  const [api, gateway, swarm] = await getFreePorts(3)
  const configFile = join(repo, 'config')
  const config = JSON.parse(await readFile(configFile, 'utf8'))
  config.Addresses.API = `/ip4/127.0.0.1/tcp/${api}`
  config.Addresses.Gateway = `/ip4/127.0.0.1/tcp/${gateway}`
  config.Addresses.Swarm = [`/ip4/127.0.0.1/tcp/${swarm}`]
  config.Addresses.Announce = []
  config.Addresses.AppendAnnounce = []
  config.Addresses.NoAnnounce = []
  config.Bootstrap = []
  config.Discovery = { MDNS: { Enabled: false } }
  config.Routing = { ...config.Routing, Type: 'none', DelegatedRouters: [] }
  config.AutoConf = { ...config.AutoConf, Enabled: false }
  config.AutoTLS = { ...config.AutoTLS, Enabled: false }
  config.Swarm = {
    ...config.Swarm,
    DisableNatPortMap: true,
    RelayClient: { Enabled: false },
    RelayService: { Enabled: false },
    Transports: { Network: { QUIC: false, WebTransport: false, WebRTCDirect: false, Websocket: false, Relay: false } },
  }
  config.Plugins = { Plugins: { telemetry: { Config: { Mode: 'off' } } } }
  await writeFile(configFile, JSON.stringify(config, null, 2))
  const child = startChild(`kubo-${name}`, bins.ipfs, ['daemon'], env, dir)
  const url = `http://127.0.0.1:${api}`
  await waitFor(child, 'Daemon is ready', () => child.output().includes('Daemon is ready'))
  return {
    child,
    info: { name, api: url, apiAddr: `/ip4/127.0.0.1/tcp/${api}`, swarmAddr: `/ip4/127.0.0.1/tcp/${swarm}`, peerId: config.Identity.PeerID, repo },
  }
}

async function swarmConnect (from: KuboInfo, to: KuboInfo): Promise<void> {
  const r = await post(`${from.api}/api/v0/swarm/connect?arg=${encodeURIComponent(`${to.swarmAddr}/p2p/${to.peerId}`)}`)
  if (r.status !== 200) throw new Error(`interop: swarm connect ${from.name} → ${to.name}: ${r.status} ${r.text}`)
}

// ---------------------------------------------------------------------------------------
// IPFS Cluster

interface PeerPorts { cluster: number, proxy: number, rest: number, pinsvc: number }

async function initClusterPeer (bins: Binaries, dir: string, name: string, secret: string, nodeAddr: string, clusterName: string): Promise<{ path: string, ports: PeerPorts, peerId: string }> {
  const path = join(dir, name)
  await mkdir(path, { recursive: true })
  await run(bins.clusterService, ['--config', path, 'init', '--consensus', 'crdt', '--force'], goEnv({}))
  const [cluster, proxy, rest, pinsvc] = await getFreePorts(4)
  const file = join(path, 'service.json')
  const cfg = JSON.parse(await readFile(file, 'utf8'))
  cfg.cluster.peername = name
  cfg.cluster.secret = secret
  cfg.cluster.listen_multiaddress = [`/ip4/127.0.0.1/tcp/${cluster}`]
  cfg.cluster.enable_relay_hop = false
  cfg.cluster.mdns_interval = '0s'
  cfg.cluster.peer_addresses = []
  cfg.cluster.monitor_ping_interval = '2s'
  cfg.cluster.peer_watch_interval = '2s'
  cfg.consensus.crdt.cluster_name = clusterName
  cfg.consensus.crdt.batching = { max_batch_size: 0, max_batch_age: '0s' }
  cfg.consensus.crdt.rebroadcast_interval = '1s'
  cfg.api.ipfsproxy.listen_multiaddress = `/ip4/127.0.0.1/tcp/${proxy}`
  cfg.api.ipfsproxy.node_multiaddress = nodeAddr
  cfg.api.restapi.http_listen_multiaddress = `/ip4/127.0.0.1/tcp/${rest}`
  cfg.api.pinsvcapi.http_listen_multiaddress = `/ip4/127.0.0.1/tcp/${pinsvc}`
  cfg.ipfs_connector.ipfshttp.node_multiaddress = nodeAddr
  cfg.ipfs_connector.ipfshttp.connect_swarms_delay = '0s'
  if (cfg.observations !== undefined) {
    cfg.observations.metrics.enable_stats = false
    cfg.observations.tracing.enable_tracing = false
  }
  await writeFile(file, JSON.stringify(cfg, null, 2))
  const identity = JSON.parse(await readFile(join(path, 'identity.json'), 'utf8'))
  return { path, ports: { cluster, proxy, rest, pinsvc }, peerId: identity.id }
}

async function startClusterPeer (bins: Binaries, dir: string, name: string, init: { path: string, ports: PeerPorts, peerId: string }, bootstrap?: string): Promise<Child> {
  const args = ['--config', init.path, 'daemon']
  if (bootstrap !== undefined) args.push('--bootstrap', bootstrap)
  const child = startChild(`cluster-${name}`, bins.clusterService, args, goEnv({}), dir)
  await waitFor(child, 'IPFS Cluster is READY', () => child.output().includes('IPFS Cluster is READY'), 90_000)
  return child
}

/**
 * Start a cluster peer; one that exits before it is ready is set up again (new ports, new
 * identity) and started once more, twice at most. Its ports are chosen before the daemon
 * binds them, and a daemon dialling out in between can take one of them.
 */
async function startClusterPeerRetrying (bins: Binaries, dir: string, name: string, init: Awaited<ReturnType<typeof initClusterPeer>>, bootstrap: string | undefined,
  again: () => Promise<Awaited<ReturnType<typeof initClusterPeer>>>): Promise<{ child: Child, init: Awaited<ReturnType<typeof initClusterPeer>> }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { child: await startClusterPeer(bins, dir, name, init, bootstrap), init }
    } catch (err) {
      if (attempt >= 3 || !/exited/.test((err as Error).message)) throw err
      process.stderr.write(`interop: cluster-${name} exited before it was ready (attempt ${attempt}); setting it up again on new ports\n${(err as Error).message.slice(-1500)}\n`)
      init = await again()
    }
  }
}

/** `ipfs-cluster-ctl` against one peer's REST API; `--enc json` answers. */
export async function clusterCtl (info: CompositeInfo, peer: ClusterPeerInfo, args: string[]): Promise<string> {
  const { stdout } = await run(info.bins.clusterCtl, ['--host', peer.restAddr, '--enc', 'json', ...args], goEnv({}))
  return stdout
}

// ---------------------------------------------------------------------------------------
// The whole setup

export interface Composite { info: CompositeInfo, stop: () => Promise<void> }

export async function startComposite (): Promise<Composite> {
  const bins = loadBinaries()
  const dir = await mkdtemp(join(tmpdir(), 'sc-interop-'))
  const children: Child[] = []
  const stop = async (): Promise<void> => {
    await Promise.all([...children].reverse().map(async c => await stopChild(c)))
    if (process.env.SUPERCLUSTER_INTEROP_KEEP === undefined) await rm(dir, { recursive: true, force: true })
  }
  try {
    const kuboNames = ['reference', 'a1', 'a2', 'b1', 'b2']
    const kubos = await Promise.all(kuboNames.map(async n => await startKubo(bins, dir, `kubo-${n}`)))
    children.push(...kubos.map(k => k.child))
    const kubo = (n: string): KuboInfo => kubos[kuboNames.indexOf(n)].info
    await swarmConnect(kubo('a1'), kubo('a2'))
    await swarmConnect(kubo('b1'), kubo('b2'))

    const subClusters: SubClusterInfo[] = []
    for (const sc of ['a', 'b']) {
      const secret = randomBytes(32).toString('hex')
      const peers: ClusterPeerInfo[] = []
      const inits = await Promise.all([1, 2].map(async i => await initClusterPeer(bins, dir, `cluster-${sc}${i}`, secret, kubo(`${sc}${i}`).apiAddr, `sub-${sc}`)))
      let first = ''
      for (const [i, chosen] of inits.entries()) {
        const { child, init } = await startClusterPeerRetrying(bins, dir, `${sc}${i + 1}`, chosen, i === 0 ? undefined : first,
          async () => await initClusterPeer(bins, dir, `cluster-${sc}${i + 1}`, secret, kubo(`${sc}${i + 1}`).apiAddr, `sub-${sc}`))
        if (i === 0) first = `/ip4/127.0.0.1/tcp/${init.ports.cluster}/p2p/${init.peerId}`
        children.push(child)
        peers.push({
          name: `${sc}${i + 1}`,
          peerId: init.peerId,
          proxy: `http://127.0.0.1:${init.ports.proxy}`,
          rest: `http://127.0.0.1:${init.ports.rest}`,
          restAddr: `/ip4/127.0.0.1/tcp/${init.ports.rest}`,
          kubo: kubo(`${sc}${i + 1}`),
        })
      }
      subClusters.push({ name: `sub-${sc}`, peers })
    }
    // Both peers of each sub-cluster see each other before anything is pinned.
    for (const sc of subClusters) {
      await waitFor(children[children.length - 1], `${sc.name} has two peers`, async () => {
        const res = await request(`${sc.peers[0].rest}/peers`)
        const peers = (await res.body.text()).split('\n').filter(Boolean).map(l => JSON.parse(l) as { id?: string, error?: string })
        return peers.filter(p => p.id !== undefined && (p.error ?? '') === '').length >= 2
      })
    }

    const [hubPort] = await getFreePorts(1)
    const hubId = 'interop-hub'
    const topology = `version: 1
hub:
  id: ${hubId}
  listen: 127.0.0.1:${hubPort}
  state: ${join(dir, 'hub-state')}
  shutdown_timeout: 5s
defaults:
  replication: { min: 1, max: 1 }
  timeout: 60s
  health: { interval: 1s, timeout: 5s, failures: 3 }
members:
${subClusters.map(sc => `  - name: ${sc.name}
    kind: cluster-proxy
    urls: [${sc.peers.map(p => p.proxy).join(', ')}]
    rest_api: ${sc.peers[0].rest}
`).join('')}passthrough: sub-a
`
    const topologyFile = join(dir, 'topology.yaml')
    await writeFile(topologyFile, topology)
    const hub = startChild('hub', process.execPath, [CLI, 'daemon', '--topology', topologyFile, '--log-level', 'warn'], process.env, dir)
    children.push(hub)
    const hubUrl = `http://127.0.0.1:${hubPort}`
    await waitFor(hub, 'hub answers version', async () => (await post(`${hubUrl}/api/v0/version`)).status === 200)

    // Cluster c: a single peer whose IPFS daemon is the hub.
    const cSecret = randomBytes(32).toString('hex')
    const cSetup = async (): Promise<Awaited<ReturnType<typeof initClusterPeer>>> => await initClusterPeer(bins, dir, 'cluster-c1', cSecret, `/ip4/127.0.0.1/tcp/${hubPort}`, 'over-hub')
    const { child: cChild, init: cInit } = await startClusterPeerRetrying(bins, dir, 'c1', await cSetup(), undefined, cSetup)
    children.push(cChild)
    const clusterC: ClusterPeerInfo = {
      name: 'c1',
      peerId: cInit.peerId,
      proxy: `http://127.0.0.1:${cInit.ports.proxy}`,
      rest: `http://127.0.0.1:${cInit.ports.rest}`,
      restAddr: `/ip4/127.0.0.1/tcp/${cInit.ports.rest}`,
    }

    return {
      info: {
        dir,
        bins,
        reference: kubo('reference'),
        subClusters,
        hub: { url: hubUrl, addr: `/ip4/127.0.0.1/tcp/${hubPort}`, topology: topologyFile, id: hubId },
        clusterC,
      },
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
