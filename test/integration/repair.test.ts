/**
 * Repair over real processes (a hub and three embedded members): a member that stays down
 * has its pins copied elsewhere within grace + one reconcile interval; when it returns,
 * the surplus copies go; pins the hub does not know are reported and left alone until
 * `supercluster pins import` adopts them; `supercluster pins status` shows one pin.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'undici'
import type { ManagedProcess } from '../fixtures/processes.js'
import { CLI, startHubProcess, startMember, type MemberProcess } from '../fixtures/hub-processes.js'
import { recursivePins } from '../fixtures/content.js'
import { getFreePorts } from '../fixtures/free-port.js'
import { until } from '../fixtures/wait.js'

const run = promisify(execFile)
const GRACE_MS = 2_000
const INTERVAL_MS = 1_000

let dir: string
let members: MemberProcess[]
let hub: ManagedProcess
let hubUrl: string

async function post (url: string, body?: string): Promise<{ status: number, text: string }> {
  const init = body === undefined
    ? { method: 'POST' as const }
    : { method: 'POST' as const, body: `--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n${body}\r\n--b--\r\n`, headers: { 'content-type': 'multipart/form-data; boundary=b' } }
  const res = await request(url, init)
  return { status: res.statusCode, text: await res.body.text() }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sc-repair-'))
  const [hubPort, ...ports] = await getFreePorts(4)
  members = await Promise.all(['a', 'b', 'c'].map(async (n, i) => await startMember(dir, n, ports[i])))
  hubUrl = `http://127.0.0.1:${hubPort}`
  await writeFile(join(dir, 'topology.yaml'), `version: 1
hub:
  id: repair-hub
  listen: 127.0.0.1:${hubPort}
  state: ${join(dir, 'hub')}
  reconcile: { interval: ${INTERVAL_MS}ms, grace: ${GRACE_MS}ms, retry_base: 200ms, retry_max: 1s }
defaults:
  replication: { min: 2, max: 2 }
  timeout: 10s
  connect_timeout: 500ms
  health: { interval: 300ms, timeout: 1s, failures: 1 }
members:
${members.map(m => `  - { name: ${m.name}, kind: kubo, url: ${m.url} }\n`).join('')}passthrough: a
`)
  hub = await startHubProcess(join(dir, 'topology.yaml'), hubUrl)
}, 60_000)

afterAll(async () => {
  await hub?.stop()
  await Promise.all((members ?? []).map(async m => await m.proc.stop()))
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('repair', () => {
  it('re-places the pins of a member that stays down, then trims the surplus when it returns', async () => {
    const cids: string[] = []
    for (let i = 0; i < 30; i++) {
      const r = await post(`${hubUrl}/api/v0/add?quiet=true`, `repair content ${i} ${dir}\n`)
      expect(r.status, r.text).toBe(200)
      cids.push((JSON.parse(r.text.trim().split('\n').at(-1)!) as { Hash: string }).Hash)
    }
    const onB = [...await recursivePins(members[1].url)].filter(c => cids.includes(c))
    expect(onB.length).toBeGreaterThan(0) // b holds part of them

    await members[1].proc.stop()
    const downAt = Date.now()
    // Within grace + one interval (and the driver's second), every pin has 2 copies on a and c.
    const took = await until('pins re-placed off the down member', async () => {
      const [a, c] = await Promise.all([recursivePins(members[0].url), recursivePins(members[2].url)])
      return cids.every(cid => a.has(cid) && c.has(cid)) ? Date.now() - downAt : undefined
    }, { timeoutMs: 20_000 })
    expect(took).toBeGreaterThanOrEqual(GRACE_MS)

    members[1] = await startMember(dir, 'b', members[1].port)
    // b still holds its old copies: 3 copies > max 2, so the lowest-ranked ones go.
    await until('surplus copies trimmed', async () => {
      const sets = await Promise.all(members.map(async m => await recursivePins(m.url)))
      return cids.every(cid => sets.filter(s => s.has(cid)).length === 2) ? true : undefined
    }, { timeoutMs: 20_000 })
  }, 60_000)

  it('reports pins it does not know, leaves them, and adopts them on import', async () => {
    // Pinned on member a directly, behind the hub's back.
    const r = await post(`${members[0].url}/api/v0/add?quiet=true`, `stranger ${dir}\n`)
    const stranger = (JSON.parse(r.text.trim().split('\n').at(-1)!) as { Hash: string }).Hash
    await until('the unknown pin is counted', async () => {
      const metrics = await (await request(`${hubUrl}/metrics`)).body.text()
      return /supercluster_member_unknown_pins\{member="a"\} 1\b/.test(metrics) ? true : undefined
    }, { timeoutMs: 10_000 })
    expect((await recursivePins(members[0].url)).has(stranger)).toBe(true) // not deleted
    expect((await post(`${hubUrl}/api/v0/pin/ls?arg=${stranger}&type=recursive`)).status).toBe(500)

    const imported = await run(process.execPath, [CLI, 'pins', 'import', '--member', 'a', '--api', hubUrl])
    expect(imported.stdout).toMatch(/^a: scanned \d+ pins, adopted 1, already known \d+\n$/)
    const ls = await post(`${hubUrl}/api/v0/pin/ls?arg=${stranger}&type=recursive`)
    expect(ls.status, ls.text).toBe(200)

    const status = await run(process.execPath, [CLI, 'pins', 'status', stranger, '--api', hubUrl])
    expect(status.stdout).toContain(`${stranger} recursive pinned, replication 2..2`)
    expect(status.stdout).toMatch(/\na\s+pinned\s+pinned\s+/)
    const json = JSON.parse((await run(process.execPath, [CLI, 'pins', 'status', stranger, '--api', hubUrl, '--json'])).stdout) as { live: Record<string, { status: string }> }
    expect(json.live.a.status).toBe('pinned')
    // The reconciler then tops it up to min on another member.
    await until('adopted pin reaches min', async () => {
      const sets = await Promise.all(members.map(async m => await recursivePins(m.url)))
      return sets.filter(s => s.has(stranger)).length >= 2 ? true : undefined
    }, { timeoutMs: 15_000 })
  }, 60_000)
})
