/**
 * @module hub/cid
 * Turning a pin argument into a CID the way Kubo prints it: a bare CID, `/ipfs/<cid>`,
 * or `ipfs://<cid>`, with an optional sub-path that a member must resolve. CIDv0 stays
 * base58 `Qm…`; CIDv1 is printed in base32.
 */
import { CID } from 'multiformats/cid'
import { InvalidCidError } from '../errors.js'

export interface ParsedPath {
  cid: CID
  /** The canonical string: base58 for v0, base32 for v1. */
  root: string
  /** Sub-path after the root, '' when the argument is just a CID. */
  rest: string
}

/**
 * Kubo's reading (cmdutils.PathOrCidPath): a content path `/ipfs/<cid>[/…]` (or `/ipld/`,
 * or the URI forms `ipfs://`, `ipfs:`), else the argument taken as `/ipfs/<arg>`; when both
 * fail, the first reading's error, which for a bare string is "not enough components".
 */
export function parseIpfsPath (arg: string): ParsedPath {
  const uri = /^(ipfs|ipns|ipld):(\/\/)?/i.exec(arg)
  const text = uri !== null ? `/${uri[1].toLowerCase()}/${arg.slice(uri[0].length)}` : arg
  if (!text.startsWith('/')) {
    try {
      return fromSegments(arg, ['ipfs', ...text.split('/').filter(p => p !== '')])
    } catch {
      throw new InvalidCidError(arg, new Error('path does not have enough components'))
    }
  }
  return fromSegments(arg, text.split('/').filter(p => p !== ''))
}

function fromSegments (arg: string, segments: string[]): ParsedPath {
  if (segments.length < 2) throw new InvalidCidError(arg, new Error('path does not have enough components'))
  const [namespace, head, ...rest] = segments
  if (namespace === 'ipns') throw new InvalidCidError(arg, new Error('IPNS paths are not supported by the hub'))
  if (namespace !== 'ipfs' && namespace !== 'ipld') throw new InvalidCidError(arg, new Error(`unknown namespace: "${namespace}"`))
  let cid: CID
  try {
    cid = CID.parse(head)
  } catch (err) {
    throw new InvalidCidError(arg, err)
  }
  return { cid, root: cid.toString(), rest: rest.join('/') }
}
