/**
 * @module embedded/blocks
 * The embedded node's persistent block store: blockstore-fs files under `<repo>/blocks`
 * (keyed by multihash, like Kubo's flatfs) plus a SQLite index of multihash → size.
 * The index makes `has` a synchronous lookup and keeps a running byte/count total so
 * repo/stat is O(1). Files are written before their index row and index rows are removed
 * before their files; an unclean shutdown triggers a rebuild of the index from disk.
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import { base32upper } from 'multiformats/bases/base32'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { Db } from './db.js'
import { BlockNotFoundError } from './errors.js'

export interface AbortOptions { signal?: AbortSignal }

/** Multihash code of the identity hash: the block is the digest itself, never stored. */
export const IDENTITY_CODE = 0x00

type Bytes = Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>

function key (cid: CID): Buffer {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength)
}

async function toBytes (val: Bytes): Promise<Uint8Array> {
  if (val instanceof Uint8Array) return val
  const parts: Uint8Array[] = []
  for await (const part of val as AsyncIterable<Uint8Array>) parts.push(part)
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}

export class BlockStore {
  private readonly fs: FsBlockstore
  private readonly db: Db
  private bytes = 0
  private blocks = 0
  private readonly stmt: {
    has: import('better-sqlite3').Statement<[Buffer], { size: number }>
    insert: import('better-sqlite3').Statement<[Buffer, number]>
    remove: import('better-sqlite3').Statement<[Buffer]>
    page: import('better-sqlite3').Statement<[Buffer, number], { mh: Buffer, size: number }>
  }

  private constructor (fs: FsBlockstore, db: Db) {
    this.fs = fs
    this.db = db
    this.stmt = {
      has: db.prepare('SELECT size FROM blocks WHERE mh = ?'),
      insert: db.prepare('INSERT OR IGNORE INTO blocks (mh, size) VALUES (?, ?)'),
      remove: db.prepare('DELETE FROM blocks WHERE mh = ?'),
      page: db.prepare('SELECT mh, size FROM blocks WHERE mh > ? ORDER BY mh LIMIT ?')
    }
  }

  /**
   * Open the store in `dir`. With `rebuild` (set after an unclean shutdown) the index is
   * recomputed from the files on disk.
   */
  static async open (dir: string, db: Db, rebuild: boolean): Promise<BlockStore> {
    const sharding = new NextToLast()
    const fs = new FsBlockstore(dir, { shardingStrategy: sharding })
    await fs.open()
    if (rebuild) await rebuildIndex(dir, db, sharding)
    const store = new BlockStore(fs, db)
    const totals = db.prepare('SELECT COALESCE(SUM(size), 0) AS bytes, COUNT(*) AS n FROM blocks').get() as { bytes: number, n: number }
    store.bytes = totals.bytes
    store.blocks = totals.n
    return store
  }

  /** Total bytes of all stored blocks. */
  get totalSize (): number { return this.bytes }
  /** Number of stored blocks. */
  get count (): number { return this.blocks }

  has (cid: CID): boolean {
    if (cid.multihash.code === IDENTITY_CODE) return true
    return this.stmt.has.get(key(cid)) !== undefined
  }

  /** Size of a stored block, or undefined. */
  sizeOf (cid: CID): number | undefined {
    if (cid.multihash.code === IDENTITY_CODE) return cid.multihash.digest.byteLength
    return this.stmt.has.get(key(cid))?.size
  }

  /** Store a block (the caller has computed `cid` from `bytes`). Existing blocks are not rewritten. */
  async put (cid: CID, val: Bytes, options: AbortOptions = {}): Promise<CID> {
    options.signal?.throwIfAborted()
    if (cid.multihash.code === IDENTITY_CODE) return cid
    const k = key(cid)
    if (this.stmt.has.get(k) !== undefined) return cid
    const bytes = await toBytes(val)
    await this.fs.put(cid, bytes, options)
    if (this.stmt.insert.run(k, bytes.byteLength).changes > 0) {
      this.bytes += bytes.byteLength
      this.blocks++
    }
    return cid
  }

  /** Blockstore-shaped read (used by the UnixFS exporter): yields the whole block once. */
  async * get (cid: CID, options: AbortOptions = {}): AsyncGenerator<Uint8Array> {
    yield await this.getBytes(cid, options)
  }

  /** Read a whole block; throws {@link BlockNotFoundError} when absent. */
  async getBytes (cid: CID, options: AbortOptions = {}): Promise<Uint8Array> {
    options.signal?.throwIfAborted()
    if (cid.multihash.code === IDENTITY_CODE) return cid.multihash.digest
    if (!this.has(cid)) throw new BlockNotFoundError(cid)
    const parts: Uint8Array[] = []
    try {
      for await (const part of this.fs.get(cid, options)) parts.push(part)
    } catch (err) {
      options.signal?.throwIfAborted()
      throw new BlockNotFoundError(cid)
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts)
  }

  /** Remove a block; false when it was not stored. */
  async delete (cid: CID, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    if (cid.multihash.code === IDENTITY_CODE) return false
    const k = key(cid)
    const row = this.stmt.has.get(k)
    if (row === undefined) return false
    if (this.stmt.remove.run(k).changes > 0) {
      this.bytes -= row.size
      this.blocks--
    }
    await this.fs.delete(cid)
    return true
  }

  /**
   * Every stored block as a CIDv1 `raw` CID (the store only knows multihashes, as in Kubo)
   * with its size. Paged, so other statements may run between pages.
   */
  async * all (options: AbortOptions = {}): AsyncGenerator<{ cid: CID, size: number }> {
    let after: Buffer = Buffer.alloc(0)
    for (;;) {
      options.signal?.throwIfAborted()
      const rows = this.stmt.page.all(after, 512)
      for (const row of rows) {
        yield { cid: CID.createV1(0x55, Digest.decode(new Uint8Array(row.mh))), size: row.size }
      }
      if (rows.length < 512) return
      after = rows[rows.length - 1].mh
    }
  }

  async close (): Promise<void> {
    await this.fs.close()
  }
}

/** Recompute the block index from the files under `dir` (after a crash). */
async function rebuildIndex (dir: string, db: Db, sharding: NextToLast): Promise<void> {
  db.exec('DELETE FROM blocks')
  const insert = db.prepare('INSERT OR IGNORE INTO blocks (mh, size) VALUES (?, ?)')
  for (const shard of await readdir(dir, { withFileTypes: true })) {
    if (!shard.isDirectory()) continue
    const rows: Array<[Buffer, number]> = []
    for (const name of await readdir(join(dir, shard.name))) {
      if (name.startsWith('.') || !name.endsWith(sharding.extension)) continue
      try {
        const mh = Digest.decode(base32upper.decode(name.slice(0, -sharding.extension.length)))
        const info = await stat(join(dir, shard.name, name))
        rows.push([Buffer.from(mh.bytes), info.size])
      } catch {
        // not a block file (or removed meanwhile): ignore
      }
    }
    db.transaction(() => { for (const [k, size] of rows) insert.run(k, size) })()
  }
}
