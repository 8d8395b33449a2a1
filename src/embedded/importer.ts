/**
 * @module embedded/importer
 * `add` for the embedded node: UnixFS DAGs with Kubo's CIDs and Kubo's AddEvent stream.
 *
 * ipfs-unixfs-importer builds the DAGs (with Kubo's defaults: CIDv0, dag-pb leaves, 256 KiB
 * fixed chunks, balanced layout with 174 links, HAMT above 256 KiB of links). Everything
 * around it follows Kubo's `add` command rather than the library:
 * - each top-level entry is its own import with its own root and pin (`-w` makes a single
 *   wrapper entry of everything);
 * - file events are emitted as each file finishes, in arrival order, then directory
 *   events post-order with siblings sorted by name (Kubo walks its MFS tree for these,
 *   so we walk the finished directory blocks the same way);
 * - files are imported strictly one at a time with a custom dag builder, because the
 *   entries come from a multipart body where the next part only appears once the
 *   previous part's content has been read: nothing is buffered beyond one chunk batch.
 */
import * as dagPb from '@ipld/dag-pb'
import { UnixFS, type Mtime } from 'ipfs-unixfs'
import { importer, importFile, type ImporterOptions, type InProgressImportResult, type WritableStorage } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced, trickle } from 'ipfs-unixfs-importer/layout'
import { CID } from 'multiformats/cid'
import { pushable } from 'it-pushable'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { CommandError } from '../errors.js'
import type { AbortOptions } from './blocks.js'
import { UnsupportedError } from './errors.js'
import { validatePinName } from './pins.js'

/** One entry of an add request: a file, a directory or a symlink, in multipart order. */
export interface AddEntry {
  /** Cleaned, unescaped path (`d/a.txt`); `''` for an unnamed top-level file. */
  path: string
  kind: 'file' | 'dir' | 'symlink'
  /** File bytes, or a symlink's target. Read once, in order, never buffered whole. */
  content?: AsyncIterable<Uint8Array> | Iterable<Uint8Array>
  mode?: number
  mtime?: { secs: number | bigint, nsecs?: number }
}

export interface AddOptions extends AbortOptions {
  /** 0 (default) or 1. Version 1 turns raw leaves on unless `rawLeaves` is given. */
  cidVersion?: number
  rawLeaves?: boolean
  /** `size-N` (N ≤ 2096896); default `size-262144`. */
  chunker?: string
  trickle?: boolean
  wrapWithDirectory?: boolean
  /** Default true: pin each top-level root recursively (only the wrapper with `-w`). */
  pin?: boolean
  pinName?: string
  /** Compute CIDs only: store nothing, pin nothing. */
  onlyHash?: boolean
  /** Emit `{Name, Bytes}` progress events. */
  progress?: boolean
  /** Only sha2-256 is supported. */
  hash?: string
  /** Suppress file and symlink events (directory events stay, as in Kubo). */
  silent?: boolean
}

/** Kubo's AddEvent; fields after `Name` are present only when non-empty, in Go's order. */
export interface AddEvent {
  Name: string
  Hash?: string
  Bytes?: number
  Size?: string
  Mode?: string
  Mtime?: number
  MtimeNsecs?: number
}

/**
 * The importer's own UnixFS class (ipfs-unixfs 13, nested under the importer) differs in
 * type from the project's ipfs-unixfs 12; the tree builder only duck-types it
 * (`isDirectory()`, `mode`, `mtime`), so our nodes are passed through as this type.
 */
type ImporterUnixFS = InProgressImportResult['unixfs']

/** Options after Kubo's defaulting and validation. */
export interface ResolvedAddOptions {
  cidVersion: 0 | 1
  rawLeaves: boolean
  rawLeavesGiven: boolean
  chunkSize: number
  trickle: boolean
  wrap: boolean
  pin: boolean
  pinName: string
  onlyHash: boolean
  progress: boolean
  silent: boolean
}

/** Largest `size-N` Kubo accepts: 2 MiB minus 256 bytes of framing. */
export const MAX_CHUNK_SIZE = 2 * 1024 * 1024 - 256
export const DEFAULT_CHUNK_SIZE = 262144
const PROGRESS_STEP = 256 * 1024
const MAX_LINKS = 174

/** Multihash names Kubo knows (so we can tell "unsupported here" from "unknown"). */
const KNOWN_HASHES = new Set<string>([
  'identity', 'md5', 'sha1', 'sha2-224', 'sha2-256', 'sha2-384', 'sha2-512', 'sha2-512-224', 'sha2-512-256',
  'dbl-sha2-256', 'sha2-256-trunc254-padded', 'sha3-224', 'sha3-256', 'sha3-384', 'sha3-512', 'shake-128', 'shake-256',
  'keccak-224', 'keccak-256', 'keccak-384', 'keccak-512', 'blake3', 'murmur3-32', 'murmur3-x64-64', 'murmur3-x64-128',
  'x11', 'poseidon-bls12_381-a2-fc1', 'poseidon-bls12_381-a2-fc1-sc', 'md4', 'ripemd-128', 'ripemd-160', 'ripemd-256',
  'ripemd-320', 'kangarootwelve', 'bmt', 'sm3-256', 'skein256-256', 'skein512-512', 'skein1024-1024',
  ...Array.from({ length: 64 }, (_, i) => `blake2b-${(i + 1) * 8}`),
  ...Array.from({ length: 32 }, (_, i) => `blake2s-${(i + 1) * 8}`)
])

/** Parse Kubo's `--chunker` value; returns the fixed chunk size. */
export function parseChunker (chunker: string | undefined): number {
  if (chunker === undefined || chunker === '' || chunker === 'default') return DEFAULT_CHUNK_SIZE
  if (chunker.startsWith('size-')) {
    const text = chunker.split('-')[1]
    if (!/^[+-]?\d+$/.test(text)) throw new CommandError(`strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`)
    const size = Number(text)
    if (size <= 0) throw new CommandError('chunker size must be greater than 0')
    if (size > MAX_CHUNK_SIZE) throw new CommandError(`chunker parameters may not exceed the maximum chunk size of ${MAX_CHUNK_SIZE}`)
    return size
  }
  if (chunker.startsWith('rabin') || chunker === 'buzhash') {
    throw new UnsupportedError(`chunker ${chunker} is not supported by the embedded node`)
  }
  throw new CommandError(`unrecognized chunker option: ${chunker}`)
}

/** Validate a multihash name: only sha2-256 is implemented. */
export function checkHash (hash: string | undefined): void {
  if (hash === undefined || hash === '') return
  const name = hash.toLowerCase()
  if (name === 'sha2-256') return
  if (!KNOWN_HASHES.has(name)) throw new CommandError(`unrecognized hash function: ${JSON.stringify(name)}`)
  throw new UnsupportedError(`hash function ${JSON.stringify(name)} is not supported by the embedded node (only sha2-256)`)
}

/** Apply Kubo's defaults and checks; throws before anything is read or written. */
export function resolveAddOptions (options: AddOptions = {}): ResolvedAddOptions {
  checkHash(options.hash)
  const v = options.cidVersion ?? 0
  if (v !== 0 && v !== 1) throw new CommandError(`unknown CID version: ${v}`)
  const chunkSize = parseChunker(options.chunker)
  const pinRequested = options.pin ?? true
  if (options.pinName !== undefined && options.pinName !== '' && !pinRequested) {
    throw new CommandError('pin-name option requires pin to be set')
  }
  validatePinName(options.pinName)
  const onlyHash = options.onlyHash === true
  return {
    cidVersion: v,
    rawLeaves: options.rawLeaves ?? v === 1,
    rawLeavesGiven: options.rawLeaves !== undefined,
    chunkSize,
    trickle: options.trickle === true,
    wrap: options.wrapWithDirectory === true,
    pin: pinRequested && !onlyHash,
    pinName: options.pinName ?? '',
    onlyHash,
    progress: options.progress === true,
    silent: options.silent === true
  }
}

/** `add`'s options as the Kubo RPC transport parsed them (ADD_OPTIONS), for the embedded node and the hub's only-hash alike. */
export function addOptionsOf (o: Record<string, unknown>, signal?: AbortSignal): AddOptions {
  return {
    cidVersion: o['cid-version'] as number | undefined,
    rawLeaves: o['raw-leaves'] as boolean | undefined,
    chunker: o.chunker as string | undefined,
    trickle: o.trickle as boolean | undefined,
    wrapWithDirectory: o['wrap-with-directory'] === true,
    pin: o.pin !== false,
    pinName: o['pin-name'] as string | undefined,
    onlyHash: o['only-hash'] === true,
    progress: o.progress === true,
    silent: o.silent === true,
    hash: o.hash as string | undefined,
    signal,
  }
}

/** Where an only-hash add puts its blocks: nowhere (their CIDs are all it needs). */
export const DISCARD: WritableStorage = { put: async (cid: CID) => cid }

/**
 * An add's events as a stream: `run` starts on the first `next()` and emits them; a
 * consumer that stops reading before the end stops the run through `stop`, and
 * `settled` is called once the run is over, however it ended.
 */
export async function * addEventStream (run: (emit: (ev: AddEvent) => void) => Promise<void>,
  stop: (reason: Error) => void, settled: () => void = () => {}): AsyncGenerator<AddEvent, void, undefined> {
  const events = pushable<AddEvent>({ objectMode: true })
  let finished = false
  const running = run((ev) => { events.push(ev) })
  running.then(() => { finished = true; events.end() }, (err: Error) => { finished = true; events.end(err) })
  try {
    yield * events
  } finally {
    if (!finished) stop(new Error('add: the consumer stopped reading events'))
    running.catch(() => {}).finally(settled)
  }
}

/** What `add` needs from the node: somewhere to put blocks and a way to pin roots. */
export interface AddContext {
  store: WritableStorage
  pin: (root: CID, name: string) => void
  emit: (event: AddEvent) => void
  signal?: AbortSignal
}

interface EventMeta { mode?: number, mtime?: { secs: number | bigint, nsecs?: number } }

function addEvent (name: string, fields: { hash?: CID, bytes?: number, size?: bigint | number }, meta?: EventMeta): AddEvent {
  const ev: AddEvent = { Name: name }
  if (fields.hash !== undefined) ev.Hash = fields.hash.toString()
  if (fields.bytes !== undefined && fields.bytes !== 0) ev.Bytes = fields.bytes
  if (fields.size !== undefined) ev.Size = fields.size.toString()
  if (meta?.mode !== undefined && meta.mode !== 0) ev.Mode = `0${(meta.mode & 0o7777).toString(8)}`
  if (meta?.mtime !== undefined && Number(meta.mtime.secs) > 0) {
    ev.Mtime = Number(meta.mtime.secs)
    if ((meta.mtime.nsecs ?? 0) > 0) ev.MtimeNsecs = meta.mtime.nsecs
  }
  return ev
}

function toMtime (m: AddEntry['mtime']): Mtime | undefined {
  return m === undefined ? undefined : { secs: BigInt(m.secs), nsecs: m.nsecs }
}

function hasMeta (e: AddEntry): boolean {
  return e.mode !== undefined || e.mtime !== undefined
}

/** Pull-one-ahead wrapper, so a group of entries can end when the next top-level name starts. */
class Peekable<T> {
  private buffered: IteratorResult<T> | undefined
  constructor (private readonly it: AsyncIterator<T>) {}

  async peek (): Promise<T | undefined> {
    this.buffered ??= await this.it.next()
    return this.buffered.done === true ? undefined : this.buffered.value
  }

  async next (): Promise<T | undefined> {
    const value = await this.peek()
    if (this.buffered?.done !== true) this.buffered = undefined
    return value
  }
}

function toAsync<T> (it: AsyncIterable<T> | Iterable<T>): AsyncIterator<T> {
  if (Symbol.asyncIterator in it) return it[Symbol.asyncIterator]()
  return (async function * () { yield * it })()
}

function compareNames (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/**
 * Run an add: import every entry, emit Kubo's events through `ctx.emit`, pin the roots.
 * Returns the roots in order (one per top-level entry, or the wrapper).
 */
export async function runAdd (entries: AsyncIterable<AddEntry> | Iterable<AddEntry>, o: ResolvedAddOptions, ctx: AddContext): Promise<CID[]> {
  const imp = new Importer(o, ctx)
  const peek = new Peekable(toAsync(entries))
  const roots: CID[] = []
  const finish = (root: CID): void => {
    roots.push(root)
    if (o.pin) ctx.pin(root, o.pinName)
  }
  if (o.wrap) {
    const first = await peek.next()
    if (first === undefined) throw new CommandError('expected a file argument')
    const all = (async function * () {
      yield first
      for (let e = await peek.next(); e !== undefined; e = await peek.next()) yield e
    })()
    finish(await imp.importTree(all, '', undefined))
    return roots
  }
  for (let first = await peek.next(); first !== undefined; first = await peek.next()) {
    ctx.signal?.throwIfAborted()
    if (first.kind !== 'dir' && !first.path.includes('/')) {
      finish((await imp.importLeafEntry(first, hasMeta(first) ? first : undefined)).cid)
      continue
    }
    const top = first.path.split('/')[0]
    const meta = first.path === top ? first : undefined
    const prefix = `${top}/`
    // Only a directory part may be followed by a look-ahead here: a file's content must be
    // read before the next multipart part can arrive.
    if (first.kind === 'dir' && first.path === top) {
      const next = await peek.peek()
      if (next === undefined || !next.path.startsWith(prefix)) {
        finish(await imp.importLoneDir(first))
        continue
      }
    }
    const group = (async function * () {
      yield first
      for (let e = await peek.peek(); e !== undefined && e.path.startsWith(prefix); e = await peek.peek()) {
        await peek.next()
        yield e
      }
    })()
    finish(await imp.importTree(group, top, meta))
  }
  if (roots.length === 0) throw new CommandError('expected a file argument')
  return roots
}

/** A directory block seen during an import; `pending` ones (explicit empty dirs) are stored only if the final tree uses them. */
interface DirBlock { bytes: Uint8Array, pending?: boolean }

class Importer {
  private readonly o: ResolvedAddOptions
  private readonly ctx: AddContext

  constructor (o: ResolvedAddOptions, ctx: AddContext) {
    this.o = o
    this.ctx = ctx
  }

  private fileOptions (e: AddEntry): ImporterOptions {
    const o = this.o
    // Kubo: UnixFS metadata needs a dag-pb node, so it turns raw leaves off unless asked.
    const rawLeaves = hasMeta(e) && !o.rawLeavesGiven ? false : o.rawLeaves
    return {
      cidVersion: o.cidVersion,
      rawLeaves,
      leafType: 'file',
      // Go's trickle layout always makes a root node, even over a single chunk.
      reduceSingleLeafToSelf: !o.trickle,
      chunker: fixedSize({ chunkSize: o.chunkSize }),
      layout: o.trickle ? trickle({ maxChildrenPerNode: MAX_LINKS, layerRepeat: 4 }) : balanced({ maxChildrenPerNode: MAX_LINKS }),
      fileImportConcurrency: 1,
      blockWriteConcurrency: 8,
      bufferImporter: leafImporter(o.cidVersion, rawLeaves, this.ctx.signal)
    }
  }

  private emit (ev: AddEvent): void {
    this.ctx.emit(ev)
  }

  /** Stream a file's bytes through the importer, emitting progress events as Kubo does. */
  private async importFileContent (e: AddEntry, meta: EventMeta | undefined): Promise<{ cid: CID, size: bigint, unixfs?: ImporterUnixFS }> {
    const { signal } = this.ctx
    const progress = this.o.progress
    const emit = this.emit.bind(this)
    const source = e.content ?? []
    const content = (async function * () {
      let bytes = 0
      let reported = 0
      for await (const chunk of source) {
        signal?.throwIfAborted()
        bytes += chunk.byteLength
        if (progress && bytes - reported >= PROGRESS_STEP) {
          reported = bytes
          emit(addEvent(e.path, { bytes }, meta))
        }
        yield chunk
      }
      if (progress) emit(addEvent(e.path, { bytes }, meta))
    })()
    const result = await importFile({ content, mode: e.mode, mtime: toMtime(e.mtime) }, this.ctx.store, this.fileOptions(e))
    return { cid: result.cid, size: result.size, unixfs: result.unixfs }
  }

  private async importSymlink (e: AddEntry): Promise<{ cid: CID, size: bigint, unixfs: UnixFS }> {
    const parts: Uint8Array[] = []
    for await (const chunk of e.content ?? []) parts.push(chunk)
    const unixfs = new UnixFS({ type: 'symlink', data: Buffer.concat(parts), mode: e.mode, mtime: toMtime(e.mtime) })
    return await this.putNode(unixfs)
  }

  private async encodeNode (unixfs: UnixFS): Promise<{ cid: CID, size: bigint, unixfs: UnixFS, bytes: Uint8Array }> {
    const bytes = dagPb.encode(dagPb.prepare({ Data: unixfs.marshal(), Links: [] }))
    const cid = CID.create(this.o.cidVersion, dagPb.code, await sha256.digest(bytes))
    return { cid, size: BigInt(bytes.byteLength), unixfs, bytes }
  }

  private async putNode (unixfs: UnixFS): Promise<{ cid: CID, size: bigint, unixfs: UnixFS, bytes: Uint8Array }> {
    const node = await this.encodeNode(unixfs)
    await this.ctx.store.put(node.cid, node.bytes, { signal: this.ctx.signal })
    return node
  }

  /**
   * A file or symlink: import it and emit its event (named by its CID when unnamed).
   * `meta` is the top-level entry's mode/mtime, copied onto the events as Kubo does.
   */
  async importLeafEntry (e: AddEntry, meta: EventMeta | undefined): Promise<{ cid: CID, size: bigint, unixfs?: ImporterUnixFS, name: string }> {
    this.ctx.signal?.throwIfAborted()
    const r = e.kind === 'symlink'
      ? { ...await this.importSymlink(e), unixfs: undefined }
      : await this.importFileContent(e, meta)
    const name = e.path === '' ? r.cid.toString() : e.path
    if (!this.o.silent) this.emit(addEvent(name, { hash: r.cid, size: r.size }, meta))
    return { ...r, name }
  }

  /** A top-level directory entry with nothing under it. */
  async importLoneDir (e: AddEntry): Promise<CID> {
    const r = await this.putNode(new UnixFS({ type: 'directory', mode: e.mode, mtime: toMtime(e.mtime) }))
    this.emit(addEvent(e.path, { hash: r.cid, size: r.size }, e))
    return r.cid
  }

  /**
   * A directory tree (one top-level directory, or everything under the `-w` wrapper).
   * Files are imported one at a time by our dag builder; the library's tree builder then
   * lays out the directories (flat or HAMT). Directory blocks written while it flushes are
   * kept, and their events are produced by walking them from the root, post-order, with
   * siblings in byte order, exactly like Kubo's walk of its MFS tree.
   */
  async importTree (entries: AsyncIterable<AddEntry>, rootName: string, meta: EventMeta | undefined): Promise<CID> {
    const dirs = new Map<string, DirBlock>()
    let flushing = false
    const base = this.ctx.store
    const signal = this.ctx.signal
    const store: WritableStorage = {
      put: async (cid, bytes, options) => {
        if (flushing && cid.code === dagPb.code && bytes instanceof Uint8Array) dirs.set(cid.toString(), { bytes })
        return await base.put(cid, bytes, { ...options, signal })
      }
    }
    const source = (async function * () {
      yield * entries
      flushing = true
    })()
    const self = this
    const dagBuilder = async function * (candidates: AsyncIterable<unknown> | Iterable<unknown>): AsyncGenerator<() => Promise<InProgressImportResult>> {
      for await (const candidate of candidates) {
        const e = candidate as AddEntry
        yield async () => {
          signal?.throwIfAborted()
          if (e.kind === 'dir') {
            // Not stored yet: if children follow, the tree builder replaces this empty node.
            const r = await self.encodeNode(new UnixFS({ type: 'directory', mode: e.mode, mtime: toMtime(e.mtime) }))
            dirs.set(r.cid.toString(), { bytes: r.bytes, pending: true })
            return { cid: r.cid, size: r.size, unixfs: r.unixfs as unknown as ImporterUnixFS, path: e.path, originalPath: e.path }
          }
          const r = await self.importLeafEntry(e, meta)
          return { cid: r.cid, size: r.size, unixfs: r.unixfs, path: r.name, originalPath: r.name }
        }
      }
    }
    let root: { cid: CID, size: bigint, path?: string } | undefined
    const options: ImporterOptions = {
      cidVersion: this.o.cidVersion,
      wrapWithDirectory: rootName === '',
      shardSplitThresholdBytes: 262144,
      shardSplitStrategy: 'links-bytes',
      shardFanoutBits: 8,
      fileImportConcurrency: 1,
      dagBuilder: dagBuilder as ImporterOptions['dagBuilder']
    }
    for await (const entry of importer(source as AsyncIterable<any>, store, options)) {
      if (entry.unixfs?.isDirectory() === true) root = entry
    }
    if (root === undefined || (root.path ?? '') !== rootName) {
      throw new Error(`add: the importer produced no root for ${JSON.stringify(rootName)}`)
    }
    await this.emitDirs(root.cid, rootName, dirs, meta)
    return root.cid
  }

  /**
   * Emit directory events post-order from `cid`, children sorted by name, storing the
   * explicit empty directories the final tree links to.
   */
  private async emitDirs (cid: CID, path: string, dirs: Map<string, DirBlock>, meta: EventMeta | undefined): Promise<void> {
    const block = dirs.get(cid.toString())
    if (block === undefined) return
    if (block.pending === true) {
      await this.ctx.store.put(cid, block.bytes, { signal: this.ctx.signal })
      block.pending = false
    }
    const node = dagPb.decode(block.bytes)
    const children = listDirectory(node, dirs)
    children.sort((a, b) => compareNames(a.name, b.name))
    for (const child of children) {
      if (dirs.has(child.cid.toString())) await this.emitDirs(child.cid, path === '' ? child.name : `${path}/${child.name}`, dirs, meta)
    }
    const size = node.Links.reduce((acc, l) => acc + (l.Tsize ?? 0), block.bytes.byteLength)
    this.emit(addEvent(path, { hash: cid, size }, meta))
  }
}

/**
 * Our leaf builder, replacing the library's default one for two reasons:
 * - memory: the default keeps each dag-pb leaf's chunk in its result (`unixfs.data`) and
 *   the balanced layout holds 174 results before reducing them, i.e. up to 174 chunks
 *   (43.5 MiB at 256 KiB, ~364 MiB at the largest chunk size) per file being added. Our
 *   results carry a data-less UnixFS whose `blockSizes` give the same file size, which the
 *   reducer already accepts (it is how it treats inner nodes);
 * - correctness: for a one-chunk file with mode/mtime the reducer rewraps `block` as the
 *   file's data; the default passes the *encoded dag-pb leaf* there, we pass the chunk.
 * Block bytes and CIDs are exactly the library's.
 */
function leafImporter (cidVersion: 0 | 1, rawLeaves: boolean, signal: AbortSignal | undefined): NonNullable<ImporterOptions['bufferImporter']> {
  return async function * (file, store) {
    for await (const chunk of file.content) {
      yield async () => {
        signal?.throwIfAborted()
        if (rawLeaves) {
          const cid = CID.createV1(raw.code, await sha256.digest(chunk))
          await store.put(cid, chunk, { signal })
          return { cid, size: BigInt(chunk.byteLength), block: chunk }
        }
        const bytes = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'file', data: chunk }).marshal(), Links: [] }))
        const cid = CID.create(cidVersion, dagPb.code, await sha256.digest(bytes))
        await store.put(cid, bytes, { signal })
        const summary = new UnixFS({ type: 'file', blockSizes: [BigInt(chunk.byteLength)] })
        return { cid, size: BigInt(bytes.byteLength), unixfs: summary as unknown as ImporterUnixFS, block: chunk }
      }
    }
  }
}

/** Entries of a directory node; HAMT shards are flattened (label prefixes stripped). */
function listDirectory (node: dagPb.PBNode, dirs: Map<string, DirBlock>): Array<{ name: string, cid: CID }> {
  const unixfs = node.Data === undefined ? undefined : UnixFS.unmarshal(node.Data)
  if (unixfs?.type !== 'hamt-sharded-directory') {
    return node.Links.map(l => ({ name: l.Name ?? '', cid: l.Hash }))
  }
  const pad = (Number(unixfs.fanout ?? 256n) - 1).toString(16).length
  const out: Array<{ name: string, cid: CID }> = []
  for (const link of node.Links) {
    const label = link.Name ?? ''
    if (label.length === pad) {
      const shard = dirs.get(link.Hash.toString())
      if (shard !== undefined) out.push(...listDirectory(dagPb.decode(shard.bytes), dirs))
    } else {
      out.push({ name: label.slice(pad), cid: link.Hash })
    }
  }
  return out
}
