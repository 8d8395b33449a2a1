/**
 * `applyTopology` on an in-process hub in front of kubo-mock members: what a reload
 * swaps, what it keeps, what it refuses, and how a removed member retires.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { parseTopology } from '../../src/topology/index.js'
import { applyTopology, unreloadable } from '../../src/hub/reload.js'
import { TopologyRefusedError } from '../../src/errors.js'
import { statusReport } from '../../src/hub/app.js'
import { ReplicationCensus } from '../../src/hub/census.js'
import { testHub, type TestHub } from './helpers.js'
import { BACKGROUND } from '../../src/request-context.js'

let hub: TestHub | undefined

afterEach(async () => {
  await hub?.close()
  hub = undefined
})

/** The test hub's YAML with its members replaced by `members` (YAML list items). */
function withMembers (t: TestHub, members: string[], edit: (yaml: string) => string = y => y): string {
  const head = t.yaml.slice(0, t.yaml.indexOf('members:\n'))
  const tail = t.yaml.slice(t.yaml.indexOf('passthrough:'))
  return edit(`${head}members:\n${members.join('')}${tail}`)
}

function member (t: TestHub, i: number, extra = ''): string {
  return `  - name: m${i}\n    kind: kubo\n    url: ${t.mocks[i].url}\n${extra}`
}

describe('applyTopology', () => {
  it('refuses settings that need a restart, naming each, and changes nothing', async () => {
    hub = await testHub()
    const t = hub
    const next = parseTopology(t.yaml.replace('listen: 127.0.0.1:5001', 'listen: 127.0.0.1:5002').replace('id: test-hub', 'id: other-hub'), 'test.yaml')
    const members = t.h.members
    expect(() => applyTopology(t.h, next, t.factory)).toThrow(TopologyRefusedError)
    const problems = unreloadable(t.h.topology, next)
    expect(problems).toHaveLength(2)
    expect(problems[0]).toMatch(/^hub\.id: changed from "test-hub" to "other-hub"; this takes effect only when the hub restarts/)
    expect(problems[1]).toMatch(/^hub\.listen: /)
    expect(t.h.members).toBe(members)
    expect(t.h.generation).toBe(1)
  })

  it('gives a changed member a fresh client, keeps the others, and leaves a request its own copy', async () => {
    hub = await testHub()
    const t = hub
    const request = { ...t.h } // what a request took when it started
    const [m0, m1] = [t.h.members.get('m0'), t.h.members.get('m1')]
    const change = applyTopology(t.h, parseTopology(withMembers(t, [member(t, 0), member(t, 1, '    timeout: 3s\n'), member(t, 2)]), 'test.yaml'), t.factory)
    expect(change).toMatchObject({ generation: 2, added: [], removed: [], changed: ['m1'] })
    expect(t.h.members.get('m0')).toBe(m0)
    expect(t.h.members.get('m1')).not.toBe(m1)
    expect(t.h.members.get('m1')?.spec.timeoutMs).toBe(3_000)
    expect(request.members.get('m1')).toBe(m1)
    expect(request.placement).not.toBe(t.h.placement)
    // The old client still answers what was sent through it.
    expect(await m1!.json('version', { scope: BACKGROUND, signal: AbortSignal.timeout(5_000) })).toMatchObject({ Version: expect.any(String) })
  })

  it('takes a removed member out of placement at once and retires it once it holds nothing', async () => {
    hub = await testHub()
    const t = hub
    const cid = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    await t.h.store.putPin({ cid, name: '', mode: 'recursive', state: 'pinned', metadata: {}, replicationMin: 1, replicationMax: 2 }, [{ member: 'm2', status: 'pinned' }])
    const change = applyTopology(t.h, parseTopology(withMembers(t, [member(t, 0), member(t, 1)]), 'test.yaml'), t.factory)
    expect(change.removed).toEqual(['m2'])
    expect(t.h.placement.place({ key: 'any' }).ranked).not.toContain('m2')
    expect(t.h.retiring.has('m2')).toBe(true)
    const listed = (await statusReport(t.h, new ReplicationCensus(t.h.store)) as { members: Array<{ name: string, removed: boolean }> }).members
    expect(listed.find(m => m.name === 'm2')?.removed).toBe(true)
    // The reconciler would move the pin and unpin it there; here the allocation just goes.
    await t.h.store.deleteAllocation(cid, 'm2')
    expect(await change.retired).toEqual(['m2'])
    expect(t.h.retiring.size).toBe(0)
    expect(t.h.monitor.health('m2')).toBeUndefined()
  })

  it('keeps a draining member out of placement', async () => {
    hub = await testHub()
    const t = hub
    applyTopology(t.h, parseTopology(withMembers(t, [member(t, 0), member(t, 1, '    drain: true\n'), member(t, 2)]), 'test.yaml'), t.factory)
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) {
      expect(t.h.placement.place({ key }).ranked).not.toContain('m1')
      expect(t.h.placement.preferred({ key })).not.toContain('m1')
    }
    expect(t.h.members.get('m1')?.spec.drain).toBe(true)
  })
})
