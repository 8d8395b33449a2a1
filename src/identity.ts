/**
 * @module identity
 * A stable peer identity for a hub or an embedded node, stored in `<dir>/identity.json`.
 * Neither speaks libp2p, so no private key is kept; it only needs an ID that parses as a
 * real peer ID (kubo-rpc-client runs `peerIdFromString` on `ID`): 32 random bytes wrapped
 * as an Ed25519 public-key protobuf, inlined in an identity multihash (`12D3KooW…`).
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { base58btc } from 'multiformats/bases/base58'
import * as Digest from 'multiformats/hashes/digest'

export interface Identity {
  /** Peer ID, base58btc identity multihash (`12D3KooW…`). */
  id: string
  /** Base64 of the protobuf-encoded public key (`CAESI…`). */
  publicKey: string
}

/** libp2p PublicKey protobuf: field 1 (KeyType) = 1 (Ed25519), field 2 (Data) = 32 bytes. */
function ed25519PublicKeyProtobuf (key: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + key.length)
  out.set([0x08, 0x01, 0x12, key.length], 0)
  out.set(key, 4)
  return out
}

export function makeIdentity (key: Uint8Array = randomBytes(32)): Identity {
  const protobuf = ed25519PublicKeyProtobuf(key)
  const multihash = Digest.create(0x00, protobuf)
  return {
    id: base58btc.baseEncode(multihash.bytes),
    publicKey: Buffer.from(protobuf).toString('base64')
  }
}

/** Load the directory's identity, creating it (and the directory) on first use. */
export async function loadIdentity (dir: string): Promise<Identity> {
  const file = join(dir, 'identity.json')
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<Identity>
    if (typeof parsed.id === 'string' && typeof parsed.publicKey === 'string') {
      return { id: parsed.id, publicKey: parsed.publicKey }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const identity = makeIdentity()
  await mkdir(dir, { recursive: true })
  await writeFile(`${file}.tmp`, JSON.stringify(identity) + '\n')
  await rename(`${file}.tmp`, file)
  return identity
}
