/**
 * @module embedded/dag
 * Link extraction and depth-first DAG walks over the local block store. Pinning, pin/ls
 * (indirect pins), GC marking and dag/export all need "every block under this root";
 * the node is offline, so the first absent block ends the walk with Kubo's
 * `ipld: could not find <cid>`.
 */
import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import type { AbortOptions, BlockStore } from './blocks.js'
import { BlockNotFoundError } from './errors.js'

/** Codecs whose links the node can follow; other codecs are treated as leaves. */
export const CODECS = {
  raw: raw.code,
  'dag-pb': dagPb.code,
  'dag-cbor': dagCbor.code,
  'dag-json': dagJson.code
} as const

/** The CIDs a block links to, in order. */
export function linksOf (cid: CID, bytes: Uint8Array): CID[] {
  switch (cid.code) {
    case dagPb.code:
      return dagPb.decode(bytes).Links.map(link => link.Hash)
    case dagCbor.code:
      return collectCids(dagCbor.decode(bytes), [])
    case dagJson.code:
      return collectCids(dagJson.decode(bytes), [])
    default:
      return []
  }
}

function collectCids (value: unknown, out: CID[]): CID[] {
  const cid = CID.asCID(value)
  if (cid != null) {
    out.push(cid)
  } else if (Array.isArray(value)) {
    for (const v of value) collectCids(v, out)
  } else if (value != null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    for (const v of Object.values(value)) collectCids(v, out)
  }
  return out
}

export interface WalkOptions extends AbortOptions {
  /** Already-visited keys; a block whose key is present is skipped with its subtree. */
  visited?: Set<string>
  /** Key used for `visited` (default: the CID string). */
  keyOf?: (cid: CID) => string
  /** Read raw leaves too (default false: only check they are present). */
  readLeaves?: boolean
}

export interface WalkedBlock { cid: CID, bytes?: Uint8Array }

/**
 * Depth-first, pre-order walk of the DAG under `root`, each block once. Raw blocks have
 * no links, so unless `readLeaves` is set they are only checked for presence.
 */
export async function * walkDag (root: CID, store: BlockStore, options: WalkOptions = {}): AsyncGenerator<WalkedBlock> {
  const visited = options.visited ?? new Set<string>()
  const keyOf = options.keyOf ?? ((c: CID) => c.toString())
  const stack: CID[] = [root]
  while (stack.length > 0) {
    options.signal?.throwIfAborted()
    const cid = stack.pop() as CID
    const k = keyOf(cid)
    if (visited.has(k)) continue
    visited.add(k)
    if (cid.code === raw.code && options.readLeaves !== true) {
      if (!store.has(cid)) throw new BlockNotFoundError(cid)
      yield { cid }
      continue
    }
    const bytes = await store.getBytes(cid, options)
    yield { cid, bytes }
    const links = linksOf(cid, bytes)
    for (let i = links.length - 1; i >= 0; i--) stack.push(links[i])
  }
}

/** Check that every block under `root` is present; throws at the first missing one. */
export async function assertComplete (root: CID, store: BlockStore, options: WalkOptions = {}): Promise<void> {
  for await (const _ of walkDag(root, store, options)) { /* presence is the point */ }
}
