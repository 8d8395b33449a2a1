/**
 * @module embedded/pins
 * The embedded node's pin set, persisted in SQLite, with Kubo's (boxo dspinner) rules:
 * one pin per CID, recursive or direct, optionally named; a recursive pin replaces a
 * direct one; pinning again renames; indirect pins are found by walking recursive DAGs.
 * Error messages are Kubo's, word for word.
 */
import { CID } from 'multiformats/cid'
import { CommandError, NotPinnedError, PinNotFoundError } from '../errors.js'
import type { AbortOptions, BlockStore } from './blocks.js'
import type { Db } from './db.js'
import { assertComplete, walkDag } from './dag.js'

export type PinMode = 'recursive' | 'direct'
export type PinLsType = 'all' | 'recursive' | 'direct' | 'indirect'

export interface PinRecord { cid: CID, mode: PinMode, name: string }

/** One pin/ls result. `type` is `recursive`, `direct`, `indirect` or `indirect through <root>`. */
export interface PinLsEntry { cid: CID, type: string, name: string }

/** A pin/ls argument: the text the user gave (echoed in errors) and the CID it resolved to. */
export interface PinLsTarget { arg: string, cid: CID }

export const MAX_PIN_NAME_BYTES = 255

/** Kubo's pin-name length check. */
export function validatePinName (name: string | undefined): void {
  if (name === undefined) return
  const n = Buffer.byteLength(name, 'utf8')
  if (n > MAX_PIN_NAME_BYTES) throw new CommandError(`pin name is ${n} bytes (max ${MAX_PIN_NAME_BYTES} bytes)`)
}

export function validatePinLsType (type: string): asserts type is PinLsType {
  if (type !== 'all' && type !== 'recursive' && type !== 'direct' && type !== 'indirect') {
    throw new CommandError(`invalid type '${type}', must be one of {direct, indirect, recursive, all}`)
  }
}

interface Row { cid: string, mode: PinMode, name: string }

export class Pinner {
  private readonly db: Db
  private readonly blocks: BlockStore

  constructor (db: Db, blocks: BlockStore) {
    this.db = db
    this.blocks = blocks
  }

  /** The pin record of exactly this CID (not indirect pins). */
  get (cid: CID): PinRecord | undefined {
    const row = this.db.prepare('SELECT cid, mode, name FROM pins WHERE cid = ?').get(cid.toString()) as Row | undefined
    return row === undefined ? undefined : { cid, mode: row.mode, name: row.name }
  }

  /** Snapshot of the pins of one mode, oldest first. */
  list (mode: PinMode): PinRecord[] {
    const rows = this.db.prepare('SELECT cid, mode, name FROM pins WHERE mode = ? ORDER BY seq').all(mode) as Row[]
    return rows.map(r => ({ cid: CID.parse(r.cid), mode: r.mode, name: r.name }))
  }

  /** Record a recursive pin without checking the DAG (the caller just wrote it). */
  setRecursive (cid: CID, name = ''): void {
    // Re-pinning renames in place; a direct pin is replaced by a new recursive one.
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM pins WHERE cid = ? AND mode = 'direct'").run(cid.toString())
      this.db.prepare(`INSERT INTO pins (cid, mode, name) VALUES (?, 'recursive', ?)
        ON CONFLICT (cid) DO UPDATE SET name = excluded.name`).run(cid.toString(), name)
    })()
  }

  private setDirect (cid: CID, name: string): void {
    this.db.prepare(`INSERT INTO pins (cid, mode, name) VALUES (?, 'direct', ?)
      ON CONFLICT (cid) DO UPDATE SET name = excluded.name`).run(cid.toString(), name)
  }

  private remove (cid: CID): void {
    this.db.prepare('DELETE FROM pins WHERE cid = ?').run(cid.toString())
  }

  /**
   * Pin each CID in order (all or nothing per CID; the first error aborts, earlier pins stay).
   * Recursive pins require every block of the DAG locally; direct pins require the block.
   */
  async add (cids: CID[], options: { recursive?: boolean, name?: string } & AbortOptions = {}): Promise<CID[]> {
    const recursive = options.recursive ?? true
    validatePinName(options.name)
    const done: CID[] = []
    for (const cid of cids) {
      options.signal?.throwIfAborted()
      if (recursive) {
        await assertComplete(cid, this.blocks, { signal: options.signal })
        this.setRecursive(cid, options.name ?? '')
      } else {
        if (this.get(cid)?.mode === 'recursive') throw new CommandError(`pin: ${cid.toString()} already pinned recursively`)
        await this.blocks.getBytes(cid, options)
        this.setDirect(cid, options.name ?? '')
      }
      done.push(cid)
    }
    return done
  }

  /** Unpin each CID in order; the first error aborts. */
  rm (cids: CID[], options: { recursive?: boolean } = {}): CID[] {
    const recursive = options.recursive ?? true
    const done: CID[] = []
    for (const cid of cids) {
      const pin = this.get(cid)
      if (pin === undefined) throw new NotPinnedError()
      if (pin.mode === 'recursive' && !recursive) throw new CommandError(`${cid.toString()} is pinned recursively`)
      this.remove(cid)
      done.push(cid)
    }
    return done
  }

  /** Move a recursive pin from one root to another, keeping its name. */
  async update (from: CID, to: CID, options: { unpin?: boolean } & AbortOptions = {}): Promise<[CID, CID]> {
    const old = this.get(from)
    if (old?.mode !== 'recursive') throw new CommandError("'from' cid was not recursively pinned already")
    if (from.equals(to)) return [from, to]
    if (this.get(to)?.mode === 'recursive') throw new CommandError("'to' cid was already recursively pinned")
    await assertComplete(to, this.blocks, { signal: options.signal })
    this.db.transaction(() => {
      this.setRecursive(to, old.name)
      if (options.unpin ?? true) this.remove(from)
    })()
    return [from, to]
  }

  /**
   * How `cid` is pinned: recursive, direct, or indirect (via a recursive root), or
   * undefined. With a `mode` other than all, only that kind of pin counts.
   */
  async isPinned (cid: CID, mode: PinLsType = 'all', options: AbortOptions = {}): Promise<{ type: 'recursive' | 'direct' | 'indirect', name: string, via?: CID } | undefined> {
    const pin = this.get(cid)
    if (mode === 'recursive' || mode === 'direct') {
      return pin?.mode === mode ? { type: mode, name: pin.name } : undefined
    }
    if (mode === 'all' && pin !== undefined) return { type: pin.mode, name: pin.name }
    if (mode === 'indirect' && pin?.mode === 'recursive') return undefined
    const via = (await this.findIndirect([cid], options)).get(cid.toString())
    return via === undefined ? undefined : { type: 'indirect', name: '', via }
  }

  /** For each wanted CID found under a recursive pin, the root it was found under. */
  private async findIndirect (wanted: CID[], options: AbortOptions): Promise<Map<string, CID>> {
    const left = new Set(wanted.map(c => c.toString()))
    const found = new Map<string, CID>()
    const visited = new Set<string>()
    for (const root of this.list('recursive')) {
      if (left.size === 0) break
      for await (const { cid } of walkDag(root.cid, this.blocks, { visited, signal: options.signal })) {
        const k = cid.toString()
        if (left.delete(k)) found.set(k, root.cid)
        if (left.size === 0) break
      }
    }
    return found
  }

  /**
   * pin/ls. Without targets: recursive pins, then direct, then indirect (each CID once;
   * `name` is a substring filter, which indirect pins never match). With targets: each
   * must be pinned the way `type` asks, else `path '<arg>' is not pinned` (thrown before
   * anything is yielded).
   */
  async * ls (options: { type?: string, targets?: PinLsTarget[], name?: string } & AbortOptions = {}): AsyncGenerator<PinLsEntry> {
    const type = options.type ?? 'all'
    validatePinLsType(type)
    validatePinName(options.name)
    if (options.targets !== undefined && options.targets.length > 0) {
      yield * this.lsTargets(type, options.targets, options)
      return
    }
    const filter = options.name ?? ''
    const matches = (name: string): boolean => filter === '' || name.includes(filter)
    const recursive = this.list('recursive')
    const direct = this.list('direct')
    const emitted = new Set<string>()
    for (const pin of recursive) {
      emitted.add(pin.cid.toString())
      if ((type === 'all' || type === 'recursive') && matches(pin.name)) yield { cid: pin.cid, type: 'recursive', name: pin.name }
    }
    for (const pin of direct) {
      emitted.add(pin.cid.toString())
      if ((type === 'all' || type === 'direct') && matches(pin.name)) yield { cid: pin.cid, type: 'direct', name: pin.name }
    }
    if ((type !== 'all' && type !== 'indirect') || filter !== '') return
    const walked = new Set<string>()
    for (const root of recursive) {
      for await (const { cid } of walkDag(root.cid, this.blocks, { visited: walked, signal: options.signal })) {
        const k = cid.toString()
        if (emitted.has(k)) continue
        emitted.add(k)
        yield { cid, type: 'indirect', name: '' }
      }
    }
  }

  private async * lsTargets (type: PinLsType, targets: PinLsTarget[], options: AbortOptions): AsyncGenerator<PinLsEntry> {
    const results: Array<PinLsEntry | undefined> = []
    const needIndirect: CID[] = []
    for (const { cid } of targets) {
      const pin = this.get(cid)
      if (type === 'all' || type === 'recursive' || type === 'direct') {
        if (pin !== undefined && (type === 'all' || pin.mode === type)) {
          results.push({ cid, type: pin.mode, name: pin.name })
          continue
        }
        if (type !== 'all') { results.push(undefined); continue }
      } else if (pin?.mode === 'recursive') {
        // a recursive root is not "indirect", even when another pin covers it too
        results.push(undefined)
        continue
      }
      needIndirect.push(cid)
      results.push(undefined)
    }
    const via = needIndirect.length > 0 ? await this.findIndirect(needIndirect, options) : new Map<string, CID>()
    for (let i = 0; i < targets.length; i++) {
      if (results[i] !== undefined) continue
      const root = via.get(targets[i].cid.toString())
      if (root === undefined || (type !== 'all' && type !== 'indirect')) throw new PinNotFoundError(targets[i].arg)
      results[i] = { cid: targets[i].cid, type: `indirect through ${root.toString()}`, name: '' }
    }
    for (const entry of results) yield entry as PinLsEntry
  }
}
