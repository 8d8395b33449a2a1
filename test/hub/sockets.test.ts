/**
 * The hub on a real listening socket (in-process) in front of kubo-mock members: what only
 * a socket shows (trailers, truncated uploads, disconnects), endpoint failover, read
 * routing, and that acknowledged pins survive flapping members.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createServer, type AddressInfo } from 'node:net'
import { afterEach, describe, expect, it, onTestFinished } from 'vitest'
import { request } from 'undici'
import { startKuboMock, type KuboMock, type KuboMockOptions } from '../fixtures/kubo-mock.js'
import { HELLO_WORLD, makeCids } from '../fixtures/cids.js'
import { parseTopology } from '../../src/topology/index.js'
import { startHub, type RunningHub } from '../../src/hub/start.js'
import { silentLogger } from '../../src/log.js'
import { multipart } from './helpers.js'
import { collect } from '../fixtures/wait.js'
import { rawBlocksCar } from '../fixtures/content.js'

interface Setup { hub: RunningHub, mocks: KuboMock[], dir: string }
let setup: Setup | undefined
afterEach(async () => {
  if (setup === undefined) return
  await setup.hub.close()
  await Promise.all(setup.mocks.map(async m => { await m.close() }))
  await rm(setup.dir, { recursive: true, force: true })
  setup = undefined
})

async function start (opts: { members?: number, replication?: { min: number, max: number }, mock?: KuboMockOptions, membersYaml?: (mocks: KuboMock[]) => string } = {}): Promise<Setup> {
  const mocks = await Promise.all(Array.from({ length: opts.members ?? 3 }, async (_, i) => await startKuboMock({ name: `m${i}`, ...opts.mock })))
  const dir = await mkdtemp(join(tmpdir(), 'sc-sock-'))
  const r = opts.replication ?? { min: 1, max: 2 }
  const members = opts.membersYaml?.(mocks) ?? mocks.map((m, i) => `  - { name: m${i}, kind: kubo, url: ${m.url} }\n`).join('')
  const topology = parseTopology(`version: 1
hub: { id: sock-hub, listen: 127.0.0.1:0, state: ${dir}, shutdown_timeout: 2s }
defaults:
  replication: { min: ${r.min}, max: ${r.max} }
  timeout: 5s
  health: { interval: 1h, timeout: 1s, failures: 3 }
members:
${members}`, 'sock.yaml')
  const hub = await startHub(topology, { log: silentLogger(), port: 0 })
  setup = { hub, mocks, dir }
  return setup
}

async function post (s: Setup, path: string, init: { body?: Uint8Array | Readable, headers?: Record<string, string> } = {}): Promise<{ status: number, text: string, trailers: Record<string, string>, headers: Record<string, unknown> }> {
  const res = await request(`${s.hub.url}${path}`, { method: 'POST', body: init.body, headers: init.headers })
  const text = await res.body.text()
  return { status: res.statusCode, text, trailers: res.trailers, headers: res.headers }
}

describe('errors after the 200 go into the X-Stream-Error trailer', () => {
  it('reports members that disagree on an added CID', async () => {
    const s = await start({ replication: { min: 1, max: 3 } })
    s.mocks[2].setFault('add', { kind: 'wrong-cid' })
    const { body, contentType } = multipart([{ name: 'hello.txt', content: HELLO_WORLD.text }])
    const res = await post(s, '/api/v0/add', { body, headers: { 'content-type': contentType } })
    expect(res.status).toBe(200)
    expect(res.text).toContain(HELLO_WORLD.v0)
    expect(res.trailers['x-stream-error']).toMatch(/members disagree.*m2/)
    expect((await s.hub.components.store.holders(HELLO_WORLD.v0)).sort()).toEqual(['m0', 'm1'])
  })

  it('drops a member whose answer breaks off mid-stream and still succeeds with min', async () => {
    const s = await start({ replication: { min: 1, max: 2 } })
    const placed = new Set<string>()
    s.mocks[0].setFault('add', { kind: 'reset' })
    const { body, contentType } = multipart([{ name: 'a.txt', content: 'abc\n' }])
    const res = await post(s, '/api/v0/add', { body, headers: { 'content-type': contentType } })
    expect(res.status).toBe(200)
    const root = (JSON.parse(res.text.trim().split('\n').at(-1)!) as { Hash: string }).Hash
    for (const m of s.mocks) if (m.pins.has(root)) placed.add(m.name)
    // whichever members were placed, the store lists exactly those that finished
    expect(new Set((await s.hub.components.store.holders(root)))).toEqual(placed)
    expect(placed.has('m0')).toBe(false)
  })
})

describe('passthrough', () => {
  function carForm (car: Uint8Array): { body: Uint8Array, headers: Record<string, string> } {
    const boundary = 'pt-boundary'
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.car"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.from(car),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ])
    return { body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }
  }

  it('streams the body to the member and its answer back; a break mid-answer ends in the trailer', async () => {
    const s = await start({ replication: { min: 1, max: 1 } })
    const { car } = await rawBlocksCar(40, 'passthrough')
    const ok = await post(s, '/api/v0/dag/import?pin-roots=false&stats=true', carForm(car))
    expect(ok.status).toBe(200)
    expect(JSON.parse(ok.text.trim().split('\n').at(-1)!)).toMatchObject({ Stats: { BlockCount: 40 } })
    expect(ok.trailers['x-stream-error'] ?? '').toBe('')
    s.mocks[0].setFault('dag/import', { kind: 'truncate', afterBytes: 3, times: 1 })
    const cut = await post(s, '/api/v0/dag/import?pin-roots=false&stats=true', carForm(car))
    expect(cut.status).toBe(200)
    expect(cut.text).toHaveLength(3)
    expect(cut.trailers['x-stream-error']).toMatch(/m0/)
    expect((await post(s, '/api/v0/dag/import?pin-roots=false', carForm(car))).status).toBe(200)
  })

  it('forwards a request without a body without one, and a member it cannot reach is a 502', async () => {
    const s = await start({ replication: { min: 1, max: 1 } })
    const res = await post(s, '/api/v0/swarm/peers')
    expect(res.status).toBe(404)
    const seen = s.mocks[0].requests.filter(r => r.path === 'swarm/peers')
    expect(seen).toHaveLength(1)
    expect(seen[0].headers['transfer-encoding']).toBeUndefined()
    expect(seen[0].headers['content-length'] ?? '0').toBe('0')
    await s.mocks[0].close()
    const down = await post(s, '/api/v0/swarm/peers')
    expect(down.status).toBe(502)
    expect(JSON.parse(down.text)).toMatchObject({ Type: 'error', Message: expect.stringMatching(/m0/) })
  })
})

describe('bad uploads', () => {
  it('answers a truncated multipart add with an error, records nothing, keeps serving', async () => {
    const s = await start()
    const { body, contentType } = multipart([{ name: 'big.bin', content: Buffer.alloc(300_000, 7) }])
    const cut = body.subarray(0, 200_000) // ends inside the file part, no closing boundary
    const res = await post(s, '/api/v0/add', { body: cut, headers: { 'content-type': contentType } })
    const failed = res.status >= 500 || (res.trailers['x-stream-error'] ?? '') !== ''
    expect(failed).toBe(true)
    expect((await collect(s.hub.components.store.list()))).toHaveLength(0)
    expect((await post(s, '/api/v0/version')).status).toBe(200)
  })

  it('cancels member uploads when the client disconnects mid-add', async () => {
    const s = await start({ replication: { min: 1, max: 3 } })
    const stream = new Readable({ read () {} })
    const { contentType } = multipart([])
    stream.push(Buffer.from(`--${contentType.split('boundary=')[1]}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\nContent-Type: application/octet-stream\r\n\r\n`))
    stream.push(Buffer.alloc(64 * 1024, 1))
    const ac = new AbortController()
    const pending = request(`${s.hub.url}/api/v0/add`, { method: 'POST', body: stream, headers: { 'content-type': contentType }, signal: ac.signal }).catch(() => undefined)
    await new Promise(resolve => setTimeout(resolve, 300))
    ac.abort()
    await pending
    await new Promise(resolve => setTimeout(resolve, 300))
    expect((await collect(s.hub.components.store.list()))).toHaveLength(0)
    expect((await post(s, '/api/v0/version')).status).toBe(200)
  })
})

describe('members', () => {
  it('fails over between the endpoints of one member and counts it once', async () => {
    // A peer that accepts and resets every connection; held open so its port is not reused.
    const dead = createServer(socket => { socket.resetAndDestroy() })
    await new Promise<void>(resolve => dead.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => { dead.close() })
    const deadPort = (dead.address() as AddressInfo).port
    const s = await start({
      members: 2,
      replication: { min: 2, max: 2 },
      membersYaml: (m) => `  - { name: multi, kind: cluster-proxy, urls: [http://127.0.0.1:${deadPort}, ${m[0].url}] }\n  - { name: single, kind: kubo, url: ${m[1].url} }\n`,
      mock: { repoSize: 100n, storageMax: 1000n },
    })
    const cid = makeCids(1)[0]
    for (let i = 0; i < 3; i++) {
      const res = await post(s, `/api/v0/pin/add?arg=${makeCids(1, { seed: String(i) })[0]}`)
      expect(res.status).toBe(200)
    }
    expect((await post(s, `/api/v0/pin/add?arg=${cid}`)).status).toBe(200)
    expect(s.mocks[0].pins.has(cid)).toBe(true)
    const stat = await post(s, '/api/v0/repo/stat?size-only=true')
    expect(stat.text).toContain('"StorageMax":2000,')
  })

  it('routes reads to a holder, and to the next member when it fails before the first byte', async () => {
    const s = await start({ replication: { min: 1, max: 1 } })
    const { body, contentType } = multipart([{ name: 'h', content: HELLO_WORLD.text }])
    await post(s, '/api/v0/add', { body, headers: { 'content-type': contentType } })
    const holder = (await s.hub.components.store.holders(HELLO_WORLD.v0))[0]
    const holderMock = s.mocks.find(m => m.name === holder)!
    const cat = await post(s, `/api/v0/cat?arg=${HELLO_WORLD.v0}`)
    expect(cat.text).toBe(HELLO_WORLD.text)
    expect(cat.headers['x-stream-output']).toBe('1')
    expect(holderMock.count('cat')).toBe(1)

    // the holder's own error (like Kubo's "this dag node is a directory") is the answer
    holderMock.setFault('cat', { kind: 'status', status: 500, message: 'disk error', times: 1 })
    const others = s.mocks.filter(m => m !== holderMock)
    const own = await post(s, `/api/v0/cat/${HELLO_WORLD.v0}`)
    expect(own.status).toBe(500)
    expect(own.text).toContain('disk error')
    expect(others.reduce((n, m) => n + m.count('cat'), 0)).toBe(0)

    // the holder is failing (503) or lacks the blocks: another member is asked (it has no
    // copy, so its error is what we get)
    holderMock.setFault('cat', { kind: 'status', status: 503, message: 'overloaded' })
    const res = await post(s, `/api/v0/cat/${HELLO_WORLD.v0}`)
    expect(res.status).toBe(500)
    expect(others.reduce((n, m) => n + m.count('cat'), 0)).toBeGreaterThanOrEqual(1)
  })

  it('pins block/put with pin=true through placement, and merges repo/gc', async () => {
    const s = await start({ replication: { min: 2, max: 2 } })
    const { body, contentType } = multipart([{ name: 'b', content: 'raw block bytes' }])
    const res = await post(s, '/api/v0/block/put?pin=true&cid-codec=raw', { body, headers: { 'content-type': contentType } })
    if (res.status === 200) {
      const key = (JSON.parse(res.text.trim()) as { Key: string }).Key
      expect((await s.hub.components.store.holders(key))).toHaveLength(2)
    } else {
      // the mock may not support block/put: then the member's error must come through as Kubo JSON
      expect((JSON.parse(res.text) as { Type: string }).Type).toBe('error')
    }
    const gc = await post(s, '/api/v0/repo/gc')
    expect(gc.status).toBe(200)
    expect(s.mocks.every(m => m.count('repo/gc') === 1)).toBe(true)
  })
})

describe('nothing acknowledged is lost', () => {
  it('keeps every acknowledged pin while members flap', async () => {
    const s = await start({ replication: { min: 1, max: 2 } })
    const cids = makeCids(300, { seed: 'flap' })
    let flips = 0
    const flapper = setInterval(() => {
      const m = s.mocks[flips++ % 3]
      m.setFault('pin/add', flips % 2 === 0 ? { kind: 'reset', times: 3 } : { kind: 'status', status: 500, times: 3 })
    }, 20)
    const acked: string[] = []
    try {
      await Promise.all(Array.from({ length: 10 }, async (_, w) => {
        for (let i = w; i < cids.length; i += 10) {
          const res = await post(s, `/api/v0/pin/add?arg=${cids[i]}`)
          if (res.status === 200) acked.push(cids[i])
        }
      }))
    } finally {
      clearInterval(flapper)
    }
    expect(acked.length).toBeGreaterThan(250)
    const listed = new Set((await collect(s.hub.components.store.list({ state: 'pinned' }))).map(p => p.cid))
    for (const cid of acked) {
      expect(listed.has(cid)).toBe(true)
      expect(s.mocks.some(m => m.pins.has(cid))).toBe(true)
    }
  })
})
