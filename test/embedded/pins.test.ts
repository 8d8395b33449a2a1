/**
 * @module test/embedded/pins
 * Pin semantics of the embedded node against Kubo's (boxo dspinner) rules and exact
 * error messages: add/rm/update/ls, direct vs recursive vs indirect, names, and the
 * offline "ipld: could not find" failure for DAGs that are not fully local.
 */
import { CID } from 'multiformats/cid'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EmbeddedNode } from '../../src/embedded/node.js'
import { addAll, collect, dir, file, tempNode, xorshift32 } from './helpers.js'

const HELLO = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
const HI = 'QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D'
const ABSENT = 'QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n'

let node: EmbeddedNode
let done: () => Promise<void>
beforeEach(async () => { ({ node, done } = await tempNode()) })
afterEach(async () => { await done() })

const ls = async (opts: Parameters<EmbeddedNode['pinLs']>[0] = {}): Promise<string[][]> =>
  (await collect(node.pinLs(opts))).map(p => [p.cid.toString(), p.type, p.name])

/** Adds a directory d/{a.txt=hello world\n, b.txt=hi\n} unpinned; returns its CID. */
async function addTree (): Promise<string> {
  const events = await addAll(node, [dir('d'), file('d/a.txt', 'hello world\n'), file('d/b.txt', 'hi\n')], { pin: false })
  return events[events.length - 1].Hash as string
}

describe('pin/add', () => {
  it('a CID with no local block fails at once with the offline wording', async () => {
    await expect(node.pinAdd([ABSENT])).rejects.toThrow(new RegExp(`^ipld: could not find ${ABSENT}$`))
    await expect(node.pinAdd([ABSENT], { recursive: false })).rejects.toThrow(`ipld: could not find ${ABSENT}`)
    // CIDv1 strings are printed in base32
    const v1 = CID.parse(ABSENT).toV1().toString()
    await expect(node.pinAdd([v1])).rejects.toThrow(`ipld: could not find ${v1}`)
  })

  it('a DAG with a missing block names that block', async () => {
    const ev = await addAll(node, [file('big', xorshift32(600_000))], { pin: false })
    const root = ev[0].Hash as string
    const links = await collect(node.dagExport(root)) // all blocks present so far
    expect(links.length).toBeGreaterThan(0)
    const { default: dagPb } = await import('@ipld/dag-pb').then(m => ({ default: m }))
    const second = dagPb.decode(await node.blockGet(root)).Links[1].Hash
    const [rm] = await node.blockRm([second])
    expect(rm.error).toBeUndefined()
    await expect(node.pinAdd([root])).rejects.toThrow(`ipld: could not find ${second.toString()}`)
    expect(await ls()).toEqual([])
    // a direct pin only needs the root block
    expect((await node.pinAdd([root], { recursive: false })).map(String)).toEqual([root])
  })

  it('recursive pin, idempotent re-pin, rename, and Kubo\'s name length limit', async () => {
    const root = await addTree()
    expect((await node.pinAdd([root], { name: 'first' })).map(String)).toEqual([root])
    expect(await ls({ type: 'recursive' })).toEqual([[root, 'recursive', 'first']])
    await node.pinAdd([root], { name: 'second' })
    expect(await ls({ type: 'recursive' })).toEqual([[root, 'recursive', 'second']])
    await node.pinAdd([`/ipfs/${root}`]) // pinning again without a name clears it, as in Kubo
    expect(await ls({ type: 'recursive' })).toEqual([[root, 'recursive', '']])
    await expect(node.pinAdd([root], { name: 'é'.repeat(128) })).rejects.toThrow('pin name is 256 bytes (max 255 bytes)')
  })

  it('direct pins: refused on a recursive pin, replaced by a recursive one', async () => {
    const root = await addTree()
    await node.pinAdd([HELLO], { recursive: false, name: 'd1' })
    expect(await ls({ type: 'direct' })).toEqual([[HELLO, 'direct', 'd1']])
    await node.pinAdd([root])
    await expect(node.pinAdd([root], { recursive: false })).rejects.toThrow(new RegExp(`^pin: ${root} already pinned recursively$`))
    await node.pinAdd([HELLO], { name: 'now-recursive' })
    expect(await ls({ type: 'direct' })).toEqual([])
    expect(await ls({ type: 'recursive' })).toEqual([[root, 'recursive', ''], [HELLO, 'recursive', 'now-recursive']])
  })

  it('pins paths through directories and reports the resolved CID', async () => {
    const root = await addTree()
    expect((await node.pinAdd([`/ipfs/${root}/a.txt`])).map(String)).toEqual([HELLO])
    expect((await node.pinAdd([`ipfs://${root}/b.txt`])).map(String)).toEqual([HI])
    await expect(node.pinAdd([`/ipfs/${root}/nope`])).rejects.toThrow(`no link named "nope" under ${root}`)
    await expect(node.pinAdd(['not-a-cid'])).rejects.toThrow('invalid path "not-a-cid"')
  })
})

describe('pin/rm', () => {
  it('Kubo\'s errors for not pinned, indirect and recursive=false', async () => {
    const root = await addTree()
    await expect(node.pinRm([root])).rejects.toThrow(/^not pinned or pinned indirectly$/)
    await node.pinAdd([root])
    await expect(node.pinRm([HELLO])).rejects.toThrow('not pinned or pinned indirectly')
    await expect(node.pinRm([root], { recursive: false })).rejects.toThrow(new RegExp(`^${root} is pinned recursively$`))
    expect((await node.pinRm([root])).map(String)).toEqual([root])
    expect(await ls()).toEqual([])
  })

  it('removes direct pins with either recursive flag; stops at the first error', async () => {
    await addTree()
    await node.pinAdd([HELLO, HI], { recursive: false })
    expect((await node.pinRm([HELLO], { recursive: false })).map(String)).toEqual([HELLO])
    await expect(node.pinRm([HI, HELLO])).rejects.toThrow('not pinned or pinned indirectly')
    expect(await ls()).toEqual([]) // HI was removed before the error on HELLO
  })
})

describe('pin/update', () => {
  it('moves the pin and its name; errors as Kubo', async () => {
    const a = await addTree()
    const b = (await addAll(node, [dir('e'), file('e/a.txt', 'hello world\n'), file('e/c.txt', 'hello\n')], { pin: false })).at(-1)?.Hash as string
    await expect(node.pinUpdate(a, b)).rejects.toThrow(/^'from' cid was not recursively pinned already$/)
    await node.pinAdd([a], { name: 'site' })
    expect((await node.pinUpdate(a, a)).map(String)).toEqual([a, a]) // same CID: no-op
    expect((await node.pinUpdate(a, b)).map(String)).toEqual([a, b])
    expect(await ls({ type: 'recursive' })).toEqual([[b, 'recursive', 'site']])
    await node.pinAdd([a])
    await expect(node.pinUpdate(a, b)).rejects.toThrow("'to' cid was already recursively pinned")
    await node.pinRm([b])
    await node.pinUpdate(a, b, { unpin: false })
    expect((await ls({ type: 'recursive' })).map(r => r[0]).sort()).toEqual([a, b].sort())
  })

  it('the new DAG must be complete locally', async () => {
    const a = await addTree()
    await node.pinAdd([a])
    await expect(node.pinUpdate(a, ABSENT)).rejects.toThrow(`ipld: could not find ${ABSENT}`)
  })
})

describe('pin/ls', () => {
  it('recursive first, then direct, then indirect, each CID once', async () => {
    const root = await addTree()
    await node.pinAdd([root])
    await node.pinAdd([HI], { recursive: false, name: 'direct-hi' })
    await node.pinAdd([HELLO], { recursive: false })
    await addAll(node, [file('other', 'hello\n')], { pinName: 'other' })
    expect(await ls()).toEqual([
      [root, 'recursive', ''],
      ['QmZULkCELmmk5XNfCgTnCyFgAVxBRBXyDHGGMVoLFLiXEN', 'recursive', 'other'],
      [HI, 'direct', 'direct-hi'],
      [HELLO, 'direct', '']
    ])
    // every child of the directory is pinned directly here, so nothing is left as indirect
    expect(await ls({ type: 'indirect' })).toEqual([])
    await node.pinRm([HELLO])
    expect(await ls({ type: 'indirect' })).toEqual([[HELLO, 'indirect', '']])
    expect(await ls({ type: 'direct' })).toEqual([[HI, 'direct', 'direct-hi']])
  })

  it('name filter is a case-sensitive substring match; indirect pins have no name', async () => {
    const root = await addTree()
    await node.pinAdd([root], { name: 'My Site' })
    await node.pinAdd([HI], { recursive: false, name: 'site-backup' })
    expect((await ls({ name: 'ite' })).map(r => r[2])).toEqual(['My Site', 'site-backup'])
    expect(await ls({ name: 'site' })).toEqual([[HI, 'direct', 'site-backup']])
    expect(await ls({ name: 'nothing' })).toEqual([])
  })

  it('explicit arguments: type checks, indirect through <root>, Kubo\'s error wording', async () => {
    const root = await addTree()
    await node.pinAdd([root], { name: 'n' })
    expect(await ls({ paths: [root] })).toEqual([[root, 'recursive', 'n']])
    expect(await ls({ paths: [HELLO] })).toEqual([[HELLO, `indirect through ${root}`, '']])
    expect(await ls({ paths: [`/ipfs/${root}/b.txt`], type: 'indirect' })).toEqual([[HI, `indirect through ${root}`, '']])
    await expect(collect(node.pinLs({ paths: [HELLO], type: 'recursive' }))).rejects.toThrow(new RegExp(`^path '${HELLO}' is not pinned$`))
    await expect(collect(node.pinLs({ paths: [root], type: 'indirect' }))).rejects.toThrow(`path '${root}' is not pinned`)
    await expect(collect(node.pinLs({ paths: [`/ipfs/${root}/a.txt`], type: 'direct' }))).rejects.toThrow(`path '/ipfs/${root}/a.txt' is not pinned`)
    await expect(collect(node.pinLs({ paths: [root, ABSENT] }))).rejects.toThrow(`path '${ABSENT}' is not pinned`)
    // a direct pin inside a recursive DAG is both direct and indirect
    await node.pinAdd([HI], { recursive: false })
    expect(await ls({ paths: [HI] })).toEqual([[HI, 'direct', '']])
    expect(await ls({ paths: [HI], type: 'indirect' })).toEqual([[HI, `indirect through ${root}`, '']])
  })

  it('rejects unknown types with Kubo\'s message', async () => {
    await expect(collect(node.pinLs({ type: 'internal' }))).rejects.toThrow("invalid type 'internal', must be one of {direct, indirect, recursive, all}")
  })

  it('isPinned reports the kind of pin', async () => {
    const root = await addTree()
    await node.pinAdd([root])
    expect(await node.isPinned(root)).toEqual({ type: 'recursive', name: '' })
    expect((await node.isPinned(HELLO))?.via?.toString()).toBe(root)
    expect(await node.isPinned(ABSENT)).toBeUndefined()
  })
})
