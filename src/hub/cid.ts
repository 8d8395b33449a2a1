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

export function parseIpfsPath (arg: string): ParsedPath {
  let s = arg.trim()
  if (s.startsWith('ipfs://')) s = s.slice('ipfs://'.length)
  else if (s.startsWith('/ipfs/')) s = s.slice('/ipfs/'.length)
  else if (s.startsWith('/ipns/') || s.startsWith('ipns://')) throw new InvalidCidError(arg, new Error('IPNS paths are not supported by the hub'))
  const slash = s.indexOf('/')
  const head = slash < 0 ? s : s.slice(0, slash)
  const rest = slash < 0 ? '' : s.slice(slash + 1).replace(/\/+$/, '')
  let cid: CID
  try {
    cid = CID.parse(head)
  } catch (err) {
    throw new InvalidCidError(arg, err)
  }
  return { cid, root: cid.toString(), rest }
}

/** Canonical string of a CID string (normalises base). */
export function canonicalCid (s: string): string {
  return CID.parse(s).toString()
}
