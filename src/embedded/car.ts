/**
 * @module embedded/car
 * dag/export and dag/import for the embedded node. Export walks the DAG depth-first
 * (root first, each block once, like Kubo) and streams a CARv1 through @ipld/car's
 * CarWriter, one block in flight at a time. Import reads a CAR stream block by block with
 * CarBlockIterator, checks sha2-256 hashes, and stores each block as it arrives.
 */
import { CarBlockIterator, CarWriter } from '@ipld/car'
import type { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'multiformats/bytes'
import { CommandError } from '../errors.js'
import { IDENTITY_CODE, type AbortOptions, type BlockStore } from './blocks.js'
import { walkDag } from './dag.js'

/** Stream the DAG under `root` as a CARv1. A missing block ends the stream with an error. */
export async function * exportCar (root: CID, store: BlockStore, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
  options.signal?.throwIfAborted()
  // Fail before the first byte when the root itself is absent.
  await store.getBytes(root, options)
  const { writer, out } = CarWriter.create([root])
  let failure: unknown
  let stopped = false
  const pump = (async () => {
    try {
      for await (const block of walkDag(root, store, { readLeaves: true, signal: options.signal })) {
        if (stopped) return
        await writer.put({ cid: block.cid, bytes: block.bytes as Uint8Array })
      }
    } catch (err) {
      failure = err
    } finally {
      if (!stopped) await writer.close().catch(() => {})
    }
  })()
  try {
    for await (const chunk of out) yield chunk
    await pump
    if (failure !== undefined) throw failure
  } finally {
    // the consumer stopped early: let the pump finish its current put and drop the rest
    stopped = true
  }
}

export interface CarImportStats { blockCount: number, blockBytesCount: number }

export interface CarImportResult {
  roots: CID[]
  stats: CarImportStats
}

const SHA2_256 = 0x12

/** Store every block of a CAR stream; returns its header roots (deduplicated, in order). */
export async function importCar (car: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, store: BlockStore, options: AbortOptions = {}): Promise<CarImportResult> {
  const source = Symbol.asyncIterator in car ? car : (async function * () { yield * car })()
  const blocks = await CarBlockIterator.fromIterable(source as AsyncIterable<Uint8Array>)
  const roots: CID[] = []
  for (const root of await blocks.getRoots()) {
    if (!roots.some(r => r.equals(root))) roots.push(root)
  }
  const stats: CarImportStats = { blockCount: 0, blockBytesCount: 0 }
  for await (const { cid, bytes } of blocks) {
    options.signal?.throwIfAborted()
    if (cid.multihash.code === SHA2_256) {
      const digest = await sha256.digest(bytes)
      if (!equals(digest.digest, cid.multihash.digest)) {
        throw new CommandError(`data did not match given hash: ${cid.toString()}`)
      }
    }
    stats.blockCount++
    stats.blockBytesCount += bytes.byteLength
    if (cid.multihash.code === IDENTITY_CODE) continue
    await store.put(cid, bytes, options)
  }
  return { roots, stats }
}
