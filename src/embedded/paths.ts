/**
 * @module embedded/paths
 * Parsing of the path arguments Kubo commands accept: a bare CID (any multibase),
 * `/ipfs/<cid>[/sub/path]`, `/ipld/<cid>[/…]` and `ipfs://<cid>[/…]`. `/ipns/` names need
 * the network, which the embedded node does not have.
 */
import { bases } from 'multiformats/basics'
import { CID } from 'multiformats/cid'
import type { MultibaseDecoder } from 'multiformats/bases/interface'
import { InvalidCidError } from '../errors.js'
import { UnsupportedError } from './errors.js'

let anyBase: MultibaseDecoder<string> | undefined

function decoder (): MultibaseDecoder<string> {
  if (anyBase === undefined) {
    const all = Object.values(bases).map(b => b.decoder as MultibaseDecoder<string>)
    anyBase = all.slice(1).reduce<MultibaseDecoder<string>>((acc, d) => (acc as any).or(d), all[0])
  }
  return anyBase
}

/** Parse a CID string in any multibase (CIDv0 as `Qm…`). */
export function parseCid (text: string): CID {
  return CID.parse(text, decoder())
}

export interface IpfsPath {
  /** The root CID. */
  root: CID
  /** Path segments below the root (may be empty). */
  segments: string[]
}

/** Parse a CID-or-path argument; throws Kubo's `invalid path "<arg>": …`. */
export function parsePath (arg: string | CID): IpfsPath {
  const asCid = CID.asCID(arg)
  if (asCid != null) return { root: asCid, segments: [] }
  const text = String(arg)
  let rest: string
  if (text.startsWith('ipfs://')) rest = text.slice('ipfs://'.length)
  else if (text.startsWith('/ipfs/')) rest = text.slice('/ipfs/'.length)
  else if (text.startsWith('/ipld/')) rest = text.slice('/ipld/'.length)
  else if (text.startsWith('/ipns/') || text.startsWith('ipns://')) {
    throw new UnsupportedError(`cannot resolve ${text}: the embedded node is offline and has no IPNS`)
  } else rest = text
  const parts = rest.split('/').filter(p => p !== '')
  if (parts.length === 0) throw new InvalidCidError(text, new Error('path does not have enough components'))
  let root: CID
  try {
    root = parseCid(parts[0])
  } catch (err) {
    throw new InvalidCidError(text, err)
  }
  return { root, segments: parts.slice(1) }
}
