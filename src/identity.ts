/**
 * @module identity
 * A stable peer identity for a hub or an embedded node, persisted in its directory.
 * Nothing here speaks libp2p; the ID only has to be a valid peer ID (kubo-rpc-client
 * parses it), so it is an Ed25519-shaped public key wrapped in an identity multihash.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { base58btc } from 'multiformats/bases/base58'

export interface Identity {
  id: string
  publicKey: string
}

export function newIdentity (): Identity {
  // libp2p PublicKey protobuf: field 1 (KeyType) = 1 (Ed25519), field 2 (Data) = 32 bytes
  const key = Buffer.concat([Buffer.from([0x08, 0x01, 0x12, 0x20]), randomBytes(32)])
  // identity multihash: code 0x00, length 36
  const mh = Buffer.concat([Buffer.from([0x00, key.length]), key])
  return { id: base58btc.encode(mh).slice(1), publicKey: key.toString('base64') }
}

export async function loadIdentity (dir: string): Promise<Identity> {
  const file = join(dir, 'identity.json')
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Identity
    if (typeof parsed.id === 'string' && typeof parsed.publicKey === 'string') return parsed
  } catch {
    // first start: create one below
  }
  const identity = newIdentity()
  await mkdir(dir, { recursive: true })
  await writeFile(`${file}.tmp`, JSON.stringify(identity) + '\n')
  await rename(`${file}.tmp`, file)
  return identity
}
