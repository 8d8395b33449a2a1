/**
 * @module state/sqlite
 * The embedded pinset store: one SQLite file in WAL mode with versioned migrations.
 * Writes are group-committed: every write issued during one turn of the event loop goes
 * into a single transaction, and each caller's promise resolves once that transaction
 * is in the WAL (so an intent is on disk before any member is asked). A commit is the
 * expensive part of a write; sharing it is what lets a burst of pins run at thousands
 * per second. Reads run at once, synchronously, under the async interface.
 * One process owns the file, so leadership is always granted (only two leases of the
 * same name on one store exclude each other).
 * WAL checkpoints (copying the log back into the database, with an fsync) run on a worker
 * thread's own connection: done by the committing connection, as SQLite does by default,
 * they stall the event loop for milliseconds every few thousand writes. The committing
 * connection still checkpoints itself if the log grows past ~80 MB (the worker stuck).
 */
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { Worker } from 'node:worker_threads'
import Database from 'better-sqlite3'
import {
  PENDING_SQL,
  type Allocation, type AllocationStatus, type DueOptions, type Leadership, type ListAllocationsOptions, type ListOptions,
  type PendingSummary, type PinRecord, type PinState, type PinStore,
} from './store.js'
import { toAllocation, toRecord, type AllocationRow, type PinRow } from './rows.js'

type Row = PinRow<string>
const METADATA = (stored: string): Record<string, string> => JSON.parse(stored) as Record<string, string>

const PAGE = 1000
/** Pins per synchronous step of `underReplicated` (a few milliseconds each). */
const SCAN_PAGE = 2000

const MIGRATIONS: string[] = [
  `CREATE TABLE pins (
     cid TEXT PRIMARY KEY,
     name TEXT NOT NULL DEFAULT '',
     mode TEXT NOT NULL CHECK (mode IN ('recursive','direct')),
     state TEXT NOT NULL CHECK (state IN ('pinned','unpinning')),
     metadata TEXT NOT NULL DEFAULT '{}',
     rmin INTEGER NOT NULL,
     rmax INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE allocations (
     cid TEXT NOT NULL,
     member TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('queued','pinning','pinned','unpinning','error')),
     error TEXT,
     attempts INTEGER NOT NULL DEFAULT 0,
     updated_at INTEGER NOT NULL,
     PRIMARY KEY (cid, member)
   );
   CREATE INDEX allocations_member ON allocations (member, status);
   CREATE INDEX pins_mode ON pins (mode, cid);`,
  // 2: retry scheduling for the reconciler.
  `ALTER TABLE allocations ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX allocations_due ON allocations (next_attempt_at, updated_at) WHERE status IN (${PENDING_SQL});
   CREATE INDEX allocations_member_cid ON allocations (member, cid);`,
  // 3: since when an allocation has been pending (retries keep it), for the stuck-intent age.
  `ALTER TABLE allocations ADD COLUMN pending_since INTEGER;
   UPDATE allocations SET pending_since = updated_at WHERE status IN (${PENDING_SQL});
   CREATE INDEX allocations_pending ON allocations (pending_since) WHERE status IN (${PENDING_SQL});`,
]

/** How often the checkpointer copies the WAL back into the database. */
const CHECKPOINT_EVERY_MS = 200
/** Pages of WAL after which the committing connection checkpoints itself (4 KiB each). */
const FALLBACK_CHECKPOINT_PAGES = 20_000

/**
 * The checkpointer, as code evaluated in a worker (a module file beside this one would
 * not exist when tests run the TypeScript sources). PASSIVE never blocks the writer.
 */
const CHECKPOINTER = `
const { createRequire } = require('node:module')
const { workerData, parentPort } = require('node:worker_threads')
const Database = createRequire(workerData.from)('better-sqlite3')
const db = new Database(workerData.file)
db.pragma('busy_timeout = 5000')
const timer = setInterval(() => { try { db.pragma('wal_checkpoint(PASSIVE)') } catch {} }, workerData.everyMs)
parentPort.once('message', () => { clearInterval(timer); db.close(); parentPort.postMessage('closed') })
`

interface PendingWrite {
  run: () => void
  resolve: () => void
  reject: (err: unknown) => void
}

export class SqlitePinStore implements PinStore {
  private readonly db: Database.Database
  private readonly stmts
  private pending: PendingWrite[] = []
  private flushScheduled = false
  /** Leases held through `leadership`, by name, so two contenders in this process exclude each other. */
  private readonly leases = new Map<string, LocalLease>()
  private readonly checkpointer?: Worker

  /**
   * Opens (creating and migrating) the store at `file`. With `readonly`, for tools that
   * look at a live hub's state (`topology diff`): the file must exist at this
   * supercluster's schema version and is never written or migrated.
   */
  constructor (file: string, opts: { readonly?: boolean } = {}) {
    if (opts.readonly === true) {
      this.db = new Database(file, { readonly: true, fileMustExist: true })
      this.db.pragma('busy_timeout = 5000')
      const version = this.db.pragma('user_version', { simple: true }) as number
      if (version !== MIGRATIONS.length) {
        this.db.close()
        throw new Error(`${file} is at schema version ${version}, this supercluster reads version ${MIGRATIONS.length}; opened read-only, it is not migrated`)
      }
    } else {
      if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
      this.db = new Database(file)
      this.db.pragma('journal_mode = WAL')
      this.db.pragma('synchronous = NORMAL')
      this.db.pragma('busy_timeout = 5000')
      this.migrate()
      if (file !== ':memory:') {
        this.db.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`)
        this.checkpointer = new Worker(CHECKPOINTER, {
          eval: true,
          workerData: { from: import.meta.url, file: resolve(file), everyMs: CHECKPOINT_EVERY_MS },
        })
        this.checkpointer.unref()
        // A checkpointer that fails leaves the fallback above to keep the log bounded.
        this.checkpointer.on('error', () => {})
      }
    }
    const db = this.db
    this.stmts = {
      get: db.prepare<[string], Row>('SELECT * FROM pins WHERE cid = ?'),
      upsertPin: db.prepare(`INSERT INTO pins (cid, name, mode, state, metadata, rmin, rmax, created_at, updated_at)
        VALUES (@cid, @name, @mode, @state, @metadata, @rmin, @rmax, @now, @now)
        ON CONFLICT (cid) DO UPDATE SET name = excluded.name, mode = excluded.mode, state = excluded.state,
          metadata = excluded.metadata, rmin = excluded.rmin, rmax = excluded.rmax, updated_at = excluded.updated_at`),
      setState: db.prepare('UPDATE pins SET state = ?, updated_at = ? WHERE cid = ?'),
      rename: db.prepare('UPDATE pins SET name = ?, updated_at = ? WHERE cid = ?'),
      deletePin: db.prepare('DELETE FROM pins WHERE cid = ?'),
      deleteAllocs: db.prepare('DELETE FROM allocations WHERE cid = ?'),
      allocs: db.prepare<[string], AllocationRow>('SELECT * FROM allocations WHERE cid = ? ORDER BY member'),
      setAlloc: db.prepare(`INSERT INTO allocations (cid, member, status, error, attempts, next_attempt_at, updated_at, pending_since)
        VALUES (@cid, @member, @status, @error, @attempts, @next, @now, CASE WHEN @status = 'pinned' THEN NULL ELSE @now END)
        ON CONFLICT (cid, member) DO UPDATE SET status = excluded.status, error = excluded.error,
          attempts = allocations.attempts + excluded.attempts, next_attempt_at = excluded.next_attempt_at,
          updated_at = excluded.updated_at,
          pending_since = CASE WHEN excluded.status = 'pinned' THEN NULL ELSE coalesce(allocations.pending_since, excluded.updated_at) END`),
      retry: db.prepare(`UPDATE allocations SET status = @status, error = @error, attempts = attempts + 1,
        next_attempt_at = @next, updated_at = @now,
        pending_since = CASE WHEN @status = 'pinned' THEN NULL ELSE coalesce(pending_since, @now) END
        WHERE cid = @cid AND member = @member`),
      deleteAlloc: db.prepare('DELETE FROM allocations WHERE cid = ? AND member = ?'),
      holders: db.prepare<[string], { member: string }>("SELECT member FROM allocations WHERE cid = ? AND status = 'pinned' ORDER BY member"),
      due: db.prepare<[number, number], AllocationRow>(`SELECT * FROM allocations
        WHERE status IN (${PENDING_SQL}) AND next_attempt_at <= ?
        ORDER BY next_attempt_at, updated_at, cid, member LIMIT ?`),
      counts: db.prepare<[], { member: string, status: AllocationStatus, count: number }>(
        'SELECT member, status, COUNT(*) AS count FROM allocations GROUP BY member, status'),
      pending: db.prepare<[], { count: number, oldest: number | null }>(
        `SELECT COUNT(*) AS count, MIN(pending_since) AS oldest FROM allocations WHERE status IN (${PENDING_SQL})`),
      // One page of pinned pins after a CID: how many, the last CID, and how many have fewer
      // pinned holders than their min.
      shortPage: db.prepare<[string], { rows: number, last: string | null, short: number | null }>(
        `SELECT COUNT(*) AS rows, MAX(cid) AS last,
           SUM(rmin > (SELECT COUNT(*) FROM allocations a WHERE a.cid = p.cid AND a.status = 'pinned')) AS short
         FROM (SELECT cid, rmin FROM pins WHERE state = 'pinned' AND cid > ? ORDER BY cid LIMIT ${SCAN_PAGE}) p`),
    }
  }

  private migrate (): void {
    const version = this.db.pragma('user_version', { simple: true }) as number
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v])
        this.db.pragma(`user_version = ${v + 1}`)
      })()
    }
  }

  /** Queue a write for this turn's transaction. */
  private write (run: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ run, resolve, reject })
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => { this.flush() })
      }
    })
  }

  private flush (): void {
    this.flushScheduled = false
    const batch = this.pending
    this.pending = []
    if (batch.length === 0) return
    if (!this.db.open) {
      for (const w of batch) w.reject(new Error('pin store is closed'))
      return
    }
    try {
      this.db.transaction(() => { for (const w of batch) w.run() })()
      for (const w of batch) w.resolve()
    } catch {
      // One bad write must not fail its neighbours: redo them one transaction each.
      for (const w of batch) {
        try {
          this.db.transaction(w.run)()
          w.resolve()
        } catch (err) {
          w.reject(err)
        }
      }
    }
  }

  async get (cid: string): Promise<PinRecord | undefined> {
    const row = this.stmts.get.get(cid)
    return row === undefined ? undefined : toRecord(row, METADATA)
  }

  async putPin (pin: Omit<PinRecord, 'createdAt' | 'updatedAt'>, allocations: Array<{ member: string, status: AllocationStatus }>): Promise<void> {
    await this.write(() => {
      const now = Date.now()
      this.stmts.upsertPin.run({
        cid: pin.cid, name: pin.name, mode: pin.mode, state: pin.state, metadata: JSON.stringify(pin.metadata),
        rmin: pin.replicationMin, rmax: pin.replicationMax, now,
      })
      for (const a of allocations) {
        this.stmts.setAlloc.run({ cid: pin.cid, member: a.member, status: a.status, error: null, attempts: 0, next: 0, now })
      }
    })
  }

  async setPinState (cid: string, state: PinState): Promise<void> {
    await this.write(() => { this.stmts.setState.run(state, Date.now(), cid) })
  }

  async rename (cid: string, name: string): Promise<void> {
    await this.write(() => { this.stmts.rename.run(name, Date.now(), cid) })
  }

  async deletePin (cid: string): Promise<void> {
    await this.write(() => {
      this.stmts.deleteAllocs.run(cid)
      this.stmts.deletePin.run(cid)
    })
  }

  async allocations (cid: string): Promise<Allocation[]> {
    return this.stmts.allocs.all(cid).map(toAllocation)
  }

  async setAllocation (cid: string, member: string, status: AllocationStatus, error?: string): Promise<void> {
    await this.write(() => {
      this.stmts.setAlloc.run({ cid, member, status, error: error ?? null, attempts: status === 'error' ? 1 : 0, next: 0, now: Date.now() })
    })
  }

  async scheduleRetry (cid: string, member: string, status: AllocationStatus, error: string | undefined, nextAttemptAt: number): Promise<void> {
    await this.write(() => {
      this.stmts.retry.run({ cid, member, status, error: error ?? null, next: nextAttemptAt, now: Date.now() })
    })
  }

  async deleteAllocation (cid: string, member: string): Promise<void> {
    await this.write(() => { this.stmts.deleteAlloc.run(cid, member) })
  }

  async holders (cid: string): Promise<string[]> {
    return this.stmts.holders.all(cid).map(r => r.member)
  }

  /**
   * Keyset pages of 1000: an open better-sqlite3 iterator would block every write from
   * concurrent requests while a slow client reads a long listing.
   */
  async * list (opts: ListOptions = {}): AsyncGenerator<PinRecord> {
    const modes = opts.mode !== undefined ? [opts.mode] : ['recursive', 'direct'] as const
    let sql = 'SELECT * FROM pins WHERE mode = ? AND cid > ?'
    if (opts.state !== undefined) sql += ' AND state = @state'
    if (opts.nameContains !== undefined) sql += ' AND instr(name, @name) > 0'
    sql += ` ORDER BY cid LIMIT ${PAGE}`
    const page = this.db.prepare<unknown[], Row>(sql.replace('@state', '?').replace('@name', '?'))
    for (const mode of modes) {
      let after = ''
      for (;;) {
        const params: unknown[] = [mode, after]
        if (opts.state !== undefined) params.push(opts.state)
        if (opts.nameContains !== undefined) params.push(opts.nameContains)
        const rows = page.all(...params)
        for (const row of rows) yield toRecord(row, METADATA)
        if (rows.length < PAGE) break
        after = rows[rows.length - 1].cid
      }
    }
  }

  /** Keyset pages on (cid, member), for the same reason as `list`. */
  async * listAllocations (opts: ListAllocationsOptions = {}): AsyncGenerator<Allocation> {
    const statuses = opts.status ?? []
    let sql = 'SELECT * FROM allocations WHERE (cid, member) > (?, ?)'
    if (opts.member !== undefined) sql += ' AND member = ?'
    if (statuses.length > 0) sql += ` AND status IN (${statuses.map(() => '?').join(',')})`
    sql += ` ORDER BY cid, member LIMIT ${PAGE}`
    const page = this.db.prepare<unknown[], AllocationRow>(sql)
    let after = ['', '']
    for (;;) {
      const params: unknown[] = [...after]
      if (opts.member !== undefined) params.push(opts.member)
      params.push(...statuses)
      const rows = page.all(...params)
      for (const row of rows) yield toAllocation(row)
      if (rows.length < PAGE) break
      const last = rows[rows.length - 1]
      after = [last.cid, last.member]
    }
  }

  async due (opts: DueOptions): Promise<Allocation[]> {
    return this.stmts.due.all(opts.now, opts.limit).map(toAllocation)
  }

  async leadership (name: string): Promise<Leadership> {
    return new LocalLease(name, this.leases)
  }

  async countsByMember (): Promise<Array<{ member: string, status: AllocationStatus, count: number }>> {
    return this.stmts.counts.all()
  }

  async pendingSummary (): Promise<PendingSummary> {
    const row = this.stmts.pending.get()!
    return { count: row.count, oldestSince: row.oldest ?? undefined }
  }

  /** Page by page, yielding to the event loop between pages: reads here block the process. */
  async underReplicated (): Promise<number> {
    let short = 0
    let after = ''
    for (;;) {
      const page = this.stmts.shortPage.get(after)!
      short += page.short ?? 0
      if (page.rows < SCAN_PAGE || page.last === null) return short
      after = page.last
      await new Promise(resolve => setImmediate(resolve))
      if (!this.db.open) throw new Error('pin store is closed')
    }
  }

  async close (): Promise<void> {
    if (!this.db.open) return
    this.flush() // writes already acknowledged to nobody yet still land
    for (const lease of [...this.leases.values()]) await lease.release()
    const worker = this.checkpointer
    if (worker !== undefined) {
      await new Promise<void>(resolve => {
        const done = (): void => { resolve() }
        worker.once('message', done)
        worker.once('exit', done)
        worker.postMessage('close')
      })
      await worker.terminate()
    }
    this.db.close()
  }
}

/** A lease within this process: nothing outside it can take it away, so `onLost` never fires. */
class LocalLease implements Leadership {
  private holding = false

  constructor (private readonly name: string, private readonly leases: Map<string, LocalLease>) {}

  get held (): boolean { return this.holding }

  async tryAcquire (): Promise<boolean> {
    if (this.holding) return true
    if (this.leases.has(this.name)) return false
    this.leases.set(this.name, this)
    this.holding = true
    return true
  }

  async release (): Promise<void> {
    if (!this.holding) return
    this.holding = false
    this.leases.delete(this.name)
  }

  onLost (_fn: () => void): void {}
}
