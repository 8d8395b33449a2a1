/**
 * @module embedded/node
 * EmbeddedNode: a small, offline IPFS node with Kubo-identical UnixFS CIDs, used by the
 * demo and the tests as a cluster member. It has blocks, pins, add/cat, repo stat/gc and
 * CAR export/import, all persisted under one repo directory; it opens no network
 * connection, so anything it lacks is reported at once as `ipld: could not find <cid>`.
 * The HTTP layer (`routes.ts`) sits on top of this API; every method streams.
 */
import { setMaxListeners } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { resolve as resolvePath, join } from 'node:path'
import { exporter, walkPath } from 'ipfs-unixfs-exporter'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { CommandError } from '../errors.js'
import { BlockStore, type AbortOptions } from './blocks.js'
import { exportCar, importCar, type CarImportStats } from './car.js'
import { CODECS, linksOf, walkDag } from './dag.js'
import * as raw from 'multiformats/codecs/raw'
import { getMeta, openDb, setMeta, type Db } from './db.js'
import { BlockNotFoundError, NodeClosedError, UnsupportedError } from './errors.js'
import { loadIdentity, type Identity } from '../identity.js'
import { DISCARD, addEventStream, checkHash, resolveAddOptions, runAdd, type AddEntry, type AddEvent, type AddOptions } from './importer.js'
import { GcLock } from './lock.js'
import { parsePath } from './paths.js'
import { Pinner, type PinLsEntry, type PinLsTarget, type PinLsType } from './pins.js'

export type { AddEntry, AddEvent, AddOptions } from './importer.js'
export type { PinLsEntry, PinLsType } from './pins.js'
export type { Identity } from '../identity.js'

export interface EmbeddedNodeOptions {
  /** repo/stat StorageMax in bytes (Kubo's default config: 10 GB). */
  storageMax?: bigint | number
}

import type { RepoStat } from '../members/repo-stat.js'
export type { RepoStat }

export interface BlockPutOptions extends AbortOptions {
  /** raw (default), dag-pb, dag-cbor or dag-json. */
  cidCodec?: string
  /** Only sha2-256. */
  mhtype?: string
  /** Default 1; 0 only for dag-pb. */
  cidVersion?: number
  /** Deprecated Kubo option: `v0`/`protobuf` → dag-pb CIDv0, `cbor` → dag-cbor. */
  format?: string
  /** Pin the block recursively once stored. */
  pin?: boolean
  /** Allow blocks over 1 MiB. */
  allowBigBlock?: boolean
}

export interface CatResult {
  /** Bytes `content` will produce (after offset/length). */
  size: bigint
  /** Size of the whole file. */
  fileSize: bigint
  content: AsyncIterable<Uint8Array>
}

export interface DagImportRoot {
  cid: CID
  /** Why pinning this root failed; undefined when it was pinned (or pinning was off). */
  pinError?: string
}

export interface DagImportResult {
  roots: DagImportRoot[]
  stats: CarImportStats
}

export const REPO_VERSION = 'fs-repo@18'
export const DEFAULT_STORAGE_MAX = 10_000_000_000n
/** Kubo's soft limit for `block put`. */
export const MAX_BLOCK_SIZE = 1024 * 1024
const CLOSE_GRACE_MS = 5_000

const BLOCK_CODECS: Record<string, number> = {
  raw: CODECS.raw,
  'dag-pb': CODECS['dag-pb'],
  protobuf: CODECS['dag-pb'],
  'dag-cbor': CODECS['dag-cbor'],
  cbor: CODECS['dag-cbor'],
  'dag-json': CODECS['dag-json']
}

type CidLike = CID | string

export class EmbeddedNode {
  /** Absolute path of the repo directory. */
  readonly repoPath: string
  private readonly db: Db
  private readonly blocks: BlockStore
  private readonly pins: Pinner
  private readonly ident: Identity
  private readonly storageMax: bigint
  private readonly gcLock = new GcLock()
  private readonly running = new Set<AbortController>()
  private idle: (() => void) | undefined
  private closed: Promise<void> | undefined

  private constructor (repoPath: string, db: Db, blocks: BlockStore, ident: Identity, storageMax: bigint) {
    this.repoPath = repoPath
    this.db = db
    this.blocks = blocks
    this.pins = new Pinner(db, blocks)
    this.ident = ident
    this.storageMax = storageMax
  }

  /** Open (creating if needed) the repo at `repoDir`: `blocks/`, `pins.sqlite`, `identity.json`. */
  static async open (repoDir: string, options: EmbeddedNodeOptions = {}): Promise<EmbeddedNode> {
    const repoPath = resolvePath(repoDir)
    await mkdir(repoPath, { recursive: true })
    const db = openDb(join(repoPath, 'pins.sqlite'))
    try {
      const clean = getMeta(db, 'clean') === '1'
      setMeta(db, 'clean', '0')
      const blocks = await BlockStore.open(join(repoPath, 'blocks'), db, !clean)
      const ident = await loadIdentity(repoPath)
      return new EmbeddedNode(repoPath, db, blocks, ident, BigInt(options.storageMax ?? DEFAULT_STORAGE_MAX))
    } catch (err) {
      db.close()
      throw err
    }
  }

  /** Stop: abort running operations, wait for them (briefly), mark the repo clean. Idempotent. */
  async close (): Promise<void> {
    this.closed ??= (async () => {
      for (const op of this.running) op.abort(new NodeClosedError())
      if (this.running.size > 0) {
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, CLOSE_GRACE_MS)
          timer.unref()
          this.idle = () => { clearTimeout(timer); resolve() }
        })
      }
      await this.blocks.close()
      setMeta(this.db, 'clean', '1')
      this.db.close()
    })()
    await this.closed
  }

  /**
   * Start tracking one operation. Its controller aborts when the caller's signal does or
   * when the node closes; `leave` must be called when it ends. (Explicit listeners rather
   * than `AbortSignal.any`, which on Node 20 leaves listeners behind on long-lived signals.)
   */
  private enter (signal?: AbortSignal): { ctl: AbortController, leave: () => void } {
    if (this.closed !== undefined) throw new NodeClosedError()
    signal?.throwIfAborted()
    const ctl = new AbortController()
    // concurrent block reads each race this signal (blockstore-fs), briefly > 10 listeners
    setMaxListeners(Infinity, ctl.signal)
    const onAbort = (): void => { ctl.abort(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
    this.running.add(ctl)
    let left = false
    return {
      ctl,
      leave: () => {
        if (left) return
        left = true
        signal?.removeEventListener('abort', onAbort)
        this.running.delete(ctl)
        if (this.running.size === 0) this.idle?.()
      }
    }
  }

  private async op<T> (signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { ctl, leave } = this.enter(signal)
    try {
      return await fn(ctl.signal)
    } finally {
      leave()
    }
  }

  /** The node's peer identity (`12D3KooW…` and its base64 public key). */
  identity (): Identity {
    return { ...this.ident }
  }

  // ---------------------------------------------------------------- paths

  /**
   * Resolve a CID or path (`<cid>`, `/ipfs/<cid>/a/b`, `ipfs://<cid>/a`) to the CID it
   * names. A bare CID needs no block; walking a path needs the blocks along it.
   */
  async resolve (path: CidLike, options: AbortOptions = {}): Promise<CID> {
    return await this.op(options.signal, async (signal) => await this.resolveIn(path, signal))
  }

  private async resolveIn (path: CidLike, signal: AbortSignal): Promise<CID> {
    const { root, segments } = parsePath(path)
    if (segments.length === 0) return root
    let last = { cid: root, remainder: segments }
    try {
      for await (const step of walkPath(`${root.toString()}/${segments.join('/')}`, this.blocks, { signal })) {
        last = { cid: step.cid, remainder: step.remainder }
      }
    } catch (err) {
      if ((err as Error).name === 'NotFoundError' && last.remainder.length > 0) {
        throw new CommandError(`no link named ${JSON.stringify(last.remainder[0])} under ${last.cid.toString()}`)
      }
      throw err
    }
    if (last.remainder.length > 0) {
      throw new CommandError(`no link named ${JSON.stringify(last.remainder[0])} under ${last.cid.toString()}`)
    }
    return last.cid
  }

  private async toCids (cids: CidLike[], signal: AbortSignal): Promise<CID[]> {
    const out: CID[] = []
    for (const c of cids) out.push(await this.resolveIn(c, signal))
    return out
  }

  // ---------------------------------------------------------------- blocks

  /** True when the block is stored locally. */
  has (cid: CID): boolean {
    return this.blocks.has(cid)
  }

  /** Size of a stored block; throws `ipld: could not find <cid>` when absent. */
  blockSize (cid: CID): number {
    const size = this.blocks.sizeOf(cid)
    if (size === undefined) throw new BlockNotFoundError(cid)
    return size
  }

  /** block/put: hash and store one block; returns its CID. */
  async blockPut (bytes: Uint8Array, options: BlockPutOptions = {}): Promise<CID> {
    return await this.op(options.signal, async (signal) => {
      checkHash(options.mhtype)
      let codec: number
      let version: number
      if (options.format !== undefined && options.format !== '') {
        if (options.cidCodec !== undefined && options.cidCodec !== '' && options.cidCodec !== 'raw') {
          throw new CommandError('unable to use "format" (deprecated) and a custom "cid-codec" at the same time')
        }
        const f = options.format
        if (f === 'v0' || f === 'protobuf') { codec = CODECS['dag-pb']; version = 0 } else if (BLOCK_CODECS[f] !== undefined) { codec = BLOCK_CODECS[f]; version = 1 } else {
          throw new UnsupportedError(`block format ${JSON.stringify(f)} is not supported by the embedded node`)
        }
      } else {
        const name = options.cidCodec === undefined || options.cidCodec === '' ? 'raw' : options.cidCodec
        if (BLOCK_CODECS[name] === undefined) throw new UnsupportedError(`cid-codec ${JSON.stringify(name)} is not supported by the embedded node`)
        codec = BLOCK_CODECS[name]
        version = options.cidVersion ?? 1
      }
      if (version !== 0 && version !== 1) throw new CommandError(`unknown CID version: ${version}`)
      if (version === 0 && codec !== CODECS['dag-pb']) throw new CommandError('only dag-pb CIDs can be version 0')
      if (bytes.byteLength > MAX_BLOCK_SIZE && options.allowBigBlock !== true) {
        throw new CommandError("produced block is over 1MiB: big blocks can't be exchanged with other peers. consider using UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override")
      }
      const cid = CID.create(version as 0 | 1, codec, await sha256.digest(bytes))
      const release = await this.gcLock.shared(signal)
      try {
        await this.blocks.put(cid, bytes, { signal })
        if (options.pin === true) this.pins.setRecursive(cid)
      } finally {
        release()
      }
      return cid
    })
  }

  /** block/get: the block's bytes. */
  async blockGet (cid: CidLike, options: AbortOptions = {}): Promise<Uint8Array> {
    return await this.op(options.signal, async (signal) => {
      const c = await this.resolveIn(cid, signal)
      return await this.blocks.getBytes(c, { signal })
    })
  }

  /** block/stat: `{Key, Size}` (Key as Kubo prints the CID). */
  async blockStat (cid: CidLike, options: AbortOptions = {}): Promise<{ Key: string, Size: number }> {
    return await this.op(options.signal, async (signal) => {
      const c = await this.resolveIn(cid, signal)
      return { Key: c.toString(), Size: this.blockSize(c) }
    })
  }

  /**
   * block/rm: remove blocks that are not pinned. Per CID, `error` holds Kubo's reason
   * (`pinned: recursive`, `pinned: direct`, `pinned via <root>`, or not found).
   */
  async blockRm (cids: CidLike[], options: { force?: boolean } & AbortOptions = {}): Promise<Array<{ cid: CID, error?: string }>> {
    return await this.op(options.signal, async (signal) => {
      const targets = await this.toCids(cids, signal)
      const release = await this.gcLock.exclusive(signal)
      try {
        const out: Array<{ cid: CID, error?: string }> = []
        for (const cid of targets) {
          const pinned = await this.pins.isPinned(cid, 'all', { signal })
          if (pinned !== undefined) {
            out.push({ cid, error: pinned.via !== undefined ? `pinned via ${pinned.via.toString()}` : `pinned: ${pinned.type}` })
            continue
          }
          const removed = await this.blocks.delete(cid, { signal })
          out.push(removed || options.force === true ? { cid } : { cid, error: `ipld: could not find ${cid.toString()}` })
        }
        return out
      } finally {
        release()
      }
    })
  }

  // ---------------------------------------------------------------- add

  /**
   * add: import the entries and yield Kubo's AddEvents as they happen. Option errors
   * are thrown by the first `next()`, before any event. Roots are pinned (unless
   * `pin: false` or `onlyHash`) right after their events.
   */
  async * add (entries: AsyncIterable<AddEntry> | Iterable<AddEntry>, options: AddOptions = {}): AsyncGenerator<AddEvent, void, undefined> {
    const o = resolveAddOptions(options)
    const { ctl, leave } = this.enter(options.signal)
    yield * addEventStream(async (emit) => {
      const release = o.onlyHash ? () => {} : await this.gcLock.shared(ctl.signal)
      try {
        await runAdd(entries, o, {
          store: o.onlyHash ? DISCARD : this.blocks,
          pin: (root, name) => { this.pins.setRecursive(root, name) },
          emit,
          signal: ctl.signal
        })
      } finally {
        release()
      }
    }, (reason) => { ctl.abort(reason) }, leave)
  }

  // ---------------------------------------------------------------- pins

  /** pin/add: pin each CID (or path) in order; recursive pins need the whole DAG locally. */
  async pinAdd (cids: CidLike[], options: { recursive?: boolean, name?: string } & AbortOptions = {}): Promise<CID[]> {
    return await this.op(options.signal, async (signal) => {
      const targets = await this.toCids(cids, signal)
      const release = await this.gcLock.shared(signal)
      try {
        return await this.pins.add(targets, { recursive: options.recursive, name: options.name, signal })
      } finally {
        release()
      }
    })
  }

  /** pin/rm: unpin each CID (or path) in order. */
  async pinRm (cids: CidLike[], options: { recursive?: boolean } & AbortOptions = {}): Promise<CID[]> {
    return await this.op(options.signal, async (signal) => {
      const targets = await this.toCids(cids, signal)
      return this.pins.rm(targets, { recursive: options.recursive })
    })
  }

  /** pin/update: move a recursive pin (and its name) from `from` to `to`. */
  async pinUpdate (from: CidLike, to: CidLike, options: { unpin?: boolean } & AbortOptions = {}): Promise<[CID, CID]> {
    return await this.op(options.signal, async (signal) => {
      const [f, t] = await this.toCids([from, to], signal)
      const release = await this.gcLock.shared(signal)
      try {
        return await this.pins.update(f, t, { unpin: options.unpin, signal })
      } finally {
        release()
      }
    })
  }

  /**
   * pin/ls. `paths` (or `cids`) restricts the listing to those arguments, each of which
   * must be pinned the way `type` asks (`path '<arg>' is not pinned` otherwise). Names
   * are always returned; the caller blanks them unless `names` was asked for.
   */
  async * pinLs (options: { type?: PinLsType | string, paths?: string[], cids?: CidLike[], name?: string } & AbortOptions = {}): AsyncGenerator<PinLsEntry, void, undefined> {
    const { ctl: { signal }, leave } = this.enter(options.signal)
    try {
      const args: CidLike[] = [...(options.paths ?? []), ...(options.cids ?? [])]
      const targets: PinLsTarget[] = []
      for (const arg of args) targets.push({ arg: arg.toString(), cid: await this.resolveIn(arg, signal) })
      yield * this.pins.ls({ type: options.type, targets, name: options.name, signal })
    } finally {
      leave()
    }
  }

  /** How a CID is pinned (recursive, direct, or indirect via a root), or undefined. */
  async isPinned (cid: CidLike, options: { type?: PinLsType } & AbortOptions = {}): Promise<{ type: 'recursive' | 'direct' | 'indirect', name: string, via?: CID } | undefined> {
    return await this.op(options.signal, async (signal) => {
      const c = await this.resolveIn(cid, signal)
      return await this.pins.isPinned(c, options.type ?? 'all', { signal })
    })
  }

  // ---------------------------------------------------------------- repo

  /** repo/stat. RepoSize is the total size of the blocks; size-only skips the rest as Kubo does. */
  async repoStat (options: { sizeOnly?: boolean } & AbortOptions = {}): Promise<RepoStat> {
    return await this.op(options.signal, async () => {
      const sizeOnly = options.sizeOnly === true
      return {
        RepoSize: BigInt(this.blocks.totalSize),
        StorageMax: this.storageMax,
        NumObjects: sizeOnly ? 0n : BigInt(this.blocks.count),
        RepoPath: sizeOnly ? '' : this.repoPath,
        Version: sizeOnly ? '' : REPO_VERSION
      }
    })
  }

  /**
   * repo/gc: delete every block not reachable from a pin, yielding each removed block
   * (as a CIDv1 raw CID, like Kubo). Holds the GC lock, so adds and pins wait.
   */
  async * repoGc (options: AbortOptions = {}): AsyncGenerator<CID, void, undefined> {
    const { ctl: { signal }, leave } = this.enter(options.signal)
    try {
      const release = await this.gcLock.exclusive(signal)
      try {
        const keep = new Set<string>()
        const mhKey = (c: CID): string => Buffer.from(c.multihash.bytes).toString('base64')
        const visited = new Set<string>()
        for (const pin of this.pins.list('recursive')) {
          for await (const { cid } of walkDag(pin.cid, this.blocks, { visited, signal })) keep.add(mhKey(cid))
        }
        for (const pin of this.pins.list('direct')) keep.add(mhKey(pin.cid))
        for await (const { cid } of this.blocks.all({ signal })) {
          if (keep.has(mhKey(cid))) continue
          if (await this.blocks.delete(cid, { signal })) yield cid
        }
      } finally {
        release()
      }
    } finally {
      leave()
    }
  }

  // ---------------------------------------------------------------- dag

  /**
   * refs: the CIDs below `root`, depth-first in link order, the root itself left out.
   * `recursive` follows links all the way down (each block once when `unique`); otherwise
   * only the root's own links.
   */
  async * refs (root: CidLike, options: AbortOptions & { recursive?: boolean, unique?: boolean } = {}): AsyncGenerator<CID> {
    const { ctl: { signal }, leave } = this.enter(options.signal)
    try {
      const cid = await this.resolveIn(root, signal)
      const seen = new Set<string>()
      const blocks = this.blocks
      const visit = async function * (parent: CID): AsyncGenerator<CID> {
        if (parent.code === raw.code) return
        for (const child of linksOf(parent, await blocks.getBytes(parent, { signal }))) {
          const k = child.toString()
          if (options.unique === true && seen.has(k)) continue
          seen.add(k)
          yield child
          if (options.recursive === true) yield * visit(child)
        }
      }
      yield * visit(cid)
    } finally {
      leave()
    }
  }

  /** dag/export: the DAG under a CID (or path) as a streamed CARv1. */
  async * dagExport (root: CidLike, options: AbortOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    const { ctl: { signal }, leave } = this.enter(options.signal)
    try {
      const cid = await this.resolveIn(root, signal)
      yield * exportCar(cid, this.blocks, { signal })
    } finally {
      leave()
    }
  }

  /**
   * dag/import: store every block of a CAR stream, then (by default) pin each header root
   * recursively. A root that cannot be pinned gets its error in `pinError`, as Kubo's
   * `PinErrorMsg`.
   */
  async dagImport (car: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: { pinRoots?: boolean, pinName?: string } & AbortOptions = {}): Promise<DagImportResult> {
    return await this.op(options.signal, async (signal) => {
      const release = await this.gcLock.shared(signal)
      try {
        const { roots, stats } = await importCar(car, this.blocks, { signal })
        const out: DagImportRoot[] = []
        for (const cid of roots) {
          if (options.pinRoots === false) { out.push({ cid }); continue }
          try {
            await this.pins.add([cid], { recursive: true, name: options.pinName, signal })
            out.push({ cid })
          } catch (err) {
            signal.throwIfAborted()
            out.push({ cid, pinError: (err as Error).message })
          }
        }
        return { roots: out, stats }
      } finally {
        release()
      }
    })
  }

  // ---------------------------------------------------------------- unixfs

  /**
   * ls: the entries of the directory a path names, as Kubo's `ls` reports them (Type 1 a
   * directory, 2 a file, 4 a symlink; Size a file's length, 0 otherwise); a file lists as
   * itself with no links.
   */
  async ls (path: CidLike, options: AbortOptions = {}): Promise<Array<{ Name: string, Hash: string, Size: number, Type: number, Target: string }>> {
    return await this.op(options.signal, async (signal) => {
      const cid = await this.resolveIn(path, signal)
      const entry = await exporter(cid, this.blocks, { signal })
      if (entry.type !== 'directory') return []
      const links = []
      for await (const link of entry.entries({ signal })) {
        const child = await exporter(link.cid, this.blocks, { signal })
        const type = child.type === 'directory' ? 1 : child.type === 'file' && child.unixfs.type === 'symlink' ? 4 : 2
        links.push({ Name: link.name, Hash: link.cid.toString(), Size: type === 2 ? Number(child.size) : 0, Type: type, Target: '' })
      }
      return links
    })
  }

  /**
   * cat: a file's bytes from `offset`, at most `length` of them. Errors before any byte:
   * `this dag node is a directory`, `cannot specify negative offset|length`, resolution
   * errors. An offset past the end gives no bytes, as in Kubo.
   */
  async cat (path: CidLike, options: { offset?: number | bigint, length?: number | bigint } & AbortOptions = {}): Promise<CatResult> {
    return await this.op(options.signal, async (signal) => {
      if (options.offset !== undefined && BigInt(options.offset) < 0n) throw new CommandError('cannot specify negative offset')
      if (options.length !== undefined && BigInt(options.length) < 0n) throw new CommandError('cannot specify negative length')
      const cid = await this.resolveIn(path, signal)
      const entry = await exporter(cid, this.blocks, { signal })
      if (entry.type === 'directory') throw new CommandError('this dag node is a directory')
      if (entry.type === 'object' || (entry.type === 'file' && entry.unixfs.type !== 'file' && entry.unixfs.type !== 'raw')) {
        throw new CommandError('this dag node is not a regular file')
      }
      const fileSize = entry.size
      const start = options.offset === undefined ? 0n : BigInt(options.offset) > fileSize ? fileSize : BigInt(options.offset)
      const left = fileSize - start
      const size = options.length === undefined || BigInt(options.length) > left ? left : BigInt(options.length)
      const self = this
      const content = (async function * () {
        if (size === 0n) return
        const { ctl, leave } = self.enter(options.signal)
        try {
          yield * entry.content({ offset: Number(start), length: Number(size), signal: ctl.signal })
        } finally {
          leave()
        }
      })()
      return { size, fileSize, content }
    })
  }
}
