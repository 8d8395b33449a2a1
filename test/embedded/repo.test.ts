/**
 * @module test/embedded/repo
 * The embedded node's storage: block put/get/stat/rm, repo/stat, repo/gc, persistence of
 * blocks, pins and identity across close/open, index rebuild after an unclean stop.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { decode } from '@ipld/dag-pb'
import { NextToLast } from 'blockstore-fs/sharding'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EmbeddedNode } from '../../src/embedded/node.js'
import { addAll, addOne, collect, concat, dir, file, tempDir, xorshift32 } from './helpers.js'

const HELLO = 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'
const ABSENT = 'QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n'

let repo: string
let cleanup: () => Promise<void>
let node: EmbeddedNode
beforeEach(async () => {
  ({ dir: repo, cleanup } = await tempDir())
  node = await EmbeddedNode.open(repo)
})
afterEach(async () => {
  await node.close()
  await cleanup()
})

describe('blocks', () => {
  it('block put defaults to raw CIDv1 and matches add --cid-version=1', async () => {
    const cid = await node.blockPut(Buffer.from('hello world\n'))
    expect(cid.toString()).toBe('bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4')
    expect(await node.blockStat(cid)).toEqual({ Key: cid.toString(), Size: 12 })
    expect(Buffer.from(await node.blockGet(cid)).toString()).toBe('hello world\n')
    expect(node.blockSize(cid)).toBe(12)
  })

  it('format=v0 gives a dag-pb CIDv0; other codecs are CIDv1', async () => {
    const leaf = await node.blockGet(HELLO).catch(() => undefined)
    expect(leaf).toBeUndefined()
    await addOne(node, 'hello world\n', { pin: false })
    const bytes = await node.blockGet(HELLO)
    expect((await node.blockPut(bytes, { format: 'v0' })).toString()).toBe(HELLO)
    expect((await node.blockPut(bytes, { cidCodec: 'dag-pb' })).toString()).toBe('bafybeicg2rebjoofv4kbyovkw7af3rpiitvnl6i7ckcywaq6xjcxnc2mby')
    const cbor = await node.blockPut(Buffer.from([0xa1, 0x61, 0x61, 0x01]), { cidCodec: 'dag-cbor' })
    expect(cbor.code).toBe(0x71)
    expect(cbor.version).toBe(1)
    await expect(node.blockPut(bytes, { mhtype: 'sha3-256' })).rejects.toThrow('is not supported by the embedded node')
    await expect(node.blockPut(Buffer.alloc(1024 * 1024 + 1))).rejects.toThrow('produced block is over 1MiB')
    expect((await node.blockPut(Buffer.alloc(1024 * 1024 + 1), { allowBigBlock: true })).code).toBe(0x55)
  })

  it('a missing block is `ipld: could not find <cid>` (v0 base58, v1 base32)', async () => {
    await expect(node.blockGet(ABSENT)).rejects.toThrow(new RegExp(`^ipld: could not find ${ABSENT}$`))
    const v1 = CID.parse(ABSENT).toV1()
    await expect(node.blockStat(v1)).rejects.toThrow(`ipld: could not find ${v1.toString()}`)
    expect(() => node.blockSize(v1)).toThrow(`ipld: could not find ${v1.toString()}`)
    expect(node.has(v1)).toBe(false)
  })

  it('blocks are keyed by multihash, like Kubo: a CIDv0 block is readable as CIDv1 raw', async () => {
    await addOne(node, 'hello world\n')
    const asRaw = CID.createV1(0x55, CID.parse(HELLO).multihash)
    expect(node.has(asRaw)).toBe(true)
  })

  it('block rm refuses pinned blocks with Kubo\'s reasons', async () => {
    const events = await addAll(node, [dir('d'), file('d/a', 'hello world\n')])
    const root = events[1].Hash as string
    const out = await node.blockRm([root, HELLO, ABSENT])
    expect(out.map(r => r.error)).toEqual(['pinned: recursive', `pinned via ${root}`, `ipld: could not find ${ABSENT}`])
    await node.pinRm([root])
    expect((await node.blockRm([HELLO]))[0].error).toBeUndefined()
    expect(node.has(CID.parse(HELLO))).toBe(false)
  })
})

describe('repo/stat', () => {
  it('counts block bytes and objects; size-only zeroes the extras', async () => {
    const empty = await node.repoStat()
    expect(empty).toEqual({ RepoSize: 0n, StorageMax: 10_000_000_000n, NumObjects: 0n, RepoPath: repo, Version: 'fs-repo@18' })
    await addOne(node, 'hello world\n')
    await addOne(node, xorshift32(600_000))
    const stat = await node.repoStat()
    expect(stat.NumObjects).toBe(5n) // hello + (3 leaves + 1 root)
    const big = (await addOne(node, xorshift32(600_000), { onlyHash: true })).Hash as string
    const links = decode(await node.blockGet(big)).Links
    const sizes = [HELLO, big, ...links.map(l => l.Hash)].map(c => node.blockSize(typeof c === 'string' ? CID.parse(c) : c))
    expect(stat.RepoSize).toBe(BigInt(sizes.reduce((a, b) => a + b, 0)))
    expect(await node.repoStat({ sizeOnly: true })).toEqual({ RepoSize: stat.RepoSize, StorageMax: 10_000_000_000n, NumObjects: 0n, RepoPath: '', Version: '' })
  })

  it('StorageMax comes from the options', async () => {
    const { dir: other, cleanup: rmOther } = await tempDir()
    const n2 = await EmbeddedNode.open(other, { storageMax: 123 })
    expect((await n2.repoStat()).StorageMax).toBe(123n)
    await n2.close()
    await rmOther()
  })
})

describe('repo/gc', () => {
  it('removes exactly the blocks no pin reaches', async () => {
    const kept = await addAll(node, [dir('d'), file('d/a', 'hello world\n'), file('d/b', xorshift32(300_000))])
    const keptRoot = kept.at(-1)?.Hash as string
    await addOne(node, 'hi\n', { pinName: 'direct-later' })
    await node.pinRm(['QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D'])
    await node.pinAdd(['QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D'], { recursive: false })
    const garbage = await addOne(node, xorshift32(600_000, 5), { pin: false })
    const before = await node.repoStat()
    const removed = await collect(node.repoGc())
    expect(removed.length).toBe(4) // 3 leaves + root of the unpinned file (and no stray empty-dir block for 'd')
    expect(removed.every(c => c.version === 1 && c.code === 0x55)).toBe(true)
    const after = await node.repoStat()
    expect(after.NumObjects).toBe(before.NumObjects - 4n)
    expect(after.RepoSize).toBeLessThan(before.RepoSize - 600_000n)
    await expect(node.blockGet(garbage.Hash as string)).rejects.toThrow('ipld: could not find')
    expect((await concat((await node.cat(`${keptRoot}/b`)).content)).byteLength).toBe(300_000)
    expect(node.has(CID.parse('QmZLRFWaz9Kypt2ACNMDzA5uzACDRiCqwdkNSP1UZsu56D'))).toBe(true)
    expect(await collect(node.repoGc())).toEqual([])
  })

  it('refuses to collect when a pinned DAG is incomplete', async () => {
    const root = (await addOne(node, xorshift32(600_000))).Hash as string
    const garbage = (await addOne(node, 'garbage', { pin: false })).Hash as string
    const leaf = decode(await node.blockGet(root)).Links[0].Hash
    // lose a pinned block behind the node's back (disk damage), then restart
    const { dir: shard, file: name } = new NextToLast().encode(leaf)
    await unlink(join(repo, 'blocks', shard, name))
    await node.close()
    await expect(EmbeddedNode.open(repo).then(async n => { node = n; return await collect(n.repoGc()) })).rejects.toThrow(`ipld: could not find ${leaf.toString()}`)
    expect(node.has(CID.parse(garbage))).toBe(true) // nothing was deleted
  })
})

describe('persistence', () => {
  it('blocks, pins, names and identity survive close/open', async () => {
    const id = node.identity()
    const events = await addAll(node, [dir('d'), file('d/a', 'hello world\n')], { pinName: 'keep' })
    await node.pinAdd(['QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o'], { recursive: true, name: 'leaf' })
    const stat = await node.repoStat()
    await node.close()
    node = await EmbeddedNode.open(repo)
    expect(node.identity()).toEqual(id)
    expect(await node.repoStat()).toEqual(stat)
    expect((await collect(node.pinLs())).map(p => [p.cid.toString(), p.type, p.name])).toEqual([
      [events[1].Hash, 'recursive', 'keep'], [HELLO, 'recursive', 'leaf']
    ])
    expect((await concat((await node.cat(`/ipfs/${events[1].Hash}/a`)).content)).toString()).toBe('hello world\n')
  })

  it('the block index is rebuilt after an unclean stop', async () => {
    await addOne(node, xorshift32(600_000))
    await addOne(node, 'hello world\n', { pin: false })
    const stat = await node.repoStat()
    // a second node on the same repo while the first is still open sees the "not clean" flag
    const second = await EmbeddedNode.open(repo)
    expect(await second.repoStat()).toEqual(stat)
    expect(node.has(CID.parse(HELLO))).toBe(true)
    await second.close()
  })

  it('operations after close fail; close is idempotent', async () => {
    await node.close()
    await node.close()
    await expect(node.repoStat()).rejects.toThrow('embedded node is closed')
    node = await EmbeddedNode.open(repo)
  })
})

describe('identity', () => {
  it('is a valid Ed25519 peer ID with its public key', async () => {
    const { id, publicKey } = node.identity()
    expect(id).toMatch(/^12D3KooW/)
    expect(publicKey).toMatch(/^CAESI/)
    const peer = peerIdFromString(id)
    expect(peer.type).toBe('Ed25519')
    expect(Buffer.from(peer.publicKey?.raw ?? []).equals(Buffer.from(publicKey, 'base64').subarray(4))).toBe(true)
  })
})
