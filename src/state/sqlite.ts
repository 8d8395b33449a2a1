/**
 * @module state/sqlite
 * The embedded pinset store: one SQLite file in WAL mode with versioned migrations.
 * better-sqlite3 is synchronous, which is what we want here: a pin intent is on disk
 * before the call returns, and a write costs tens of microseconds, far below a member
 * round trip.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { Allocation, AllocationStatus, ListOptions, PinRecord, PinState, PinStore } from './store.js'

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
]

interface PinRow {
  cid: string
  name: string
  mode: 'recursive' | 'direct'
  state: PinState
  metadata: string
  rmin: number
  rmax: number
  created_at: number
  updated_at: number
}

export class SqlitePinStore implements PinStore {
  private readonly db: Database.Database
  private readonly stmts

  constructor (file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true })
    this.db = new Database(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('busy_timeout = 5000')
    this.migrate()
    const db = this.db
    this.stmts = {
      get: db.prepare<[string], PinRow>('SELECT * FROM pins WHERE cid = ?'),
      upsertPin: db.prepare(`INSERT INTO pins (cid, name, mode, state, metadata, rmin, rmax, created_at, updated_at)
        VALUES (@cid, @name, @mode, @state, @metadata, @rmin, @rmax, @now, @now)
        ON CONFLICT (cid) DO UPDATE SET name = excluded.name, mode = excluded.mode, state = excluded.state,
          metadata = excluded.metadata, rmin = excluded.rmin, rmax = excluded.rmax, updated_at = excluded.updated_at`),
      setState: db.prepare('UPDATE pins SET state = ?, updated_at = ? WHERE cid = ?'),
      rename: db.prepare('UPDATE pins SET name = ?, updated_at = ? WHERE cid = ?'),
      deletePin: db.prepare('DELETE FROM pins WHERE cid = ?'),
      deleteAllocs: db.prepare('DELETE FROM allocations WHERE cid = ?'),
      allocs: db.prepare<[string], { cid: string, member: string, status: AllocationStatus, error: string | null, attempts: number, updated_at: number }>(
        'SELECT * FROM allocations WHERE cid = ? ORDER BY member'),
      setAlloc: db.prepare(`INSERT INTO allocations (cid, member, status, error, attempts, updated_at)
        VALUES (@cid, @member, @status, @error, @attempts, @now)
        ON CONFLICT (cid, member) DO UPDATE SET status = excluded.status, error = excluded.error,
          attempts = allocations.attempts + excluded.attempts, updated_at = excluded.updated_at`),
      deleteAlloc: db.prepare('DELETE FROM allocations WHERE cid = ? AND member = ?'),
      holders: db.prepare<[string], { member: string }>("SELECT member FROM allocations WHERE cid = ? AND status = 'pinned' ORDER BY member"),
      counts: db.prepare<[], { member: string, status: AllocationStatus, count: number }>(
        'SELECT member, status, COUNT(*) AS count FROM allocations GROUP BY member, status'),
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

  get (cid: string): PinRecord | undefined {
    const row = this.stmts.get.get(cid)
    return row === undefined ? undefined : toRecord(row)
  }

  putPin (pin: Omit<PinRecord, 'createdAt' | 'updatedAt'>, allocations: Array<{ member: string, status: AllocationStatus }>): void {
    const now = Date.now()
    this.db.transaction(() => {
      this.stmts.upsertPin.run({
        cid: pin.cid, name: pin.name, mode: pin.mode, state: pin.state, metadata: JSON.stringify(pin.metadata),
        rmin: pin.replicationMin, rmax: pin.replicationMax, now,
      })
      for (const a of allocations) {
        this.stmts.setAlloc.run({ cid: pin.cid, member: a.member, status: a.status, error: null, attempts: 0, now })
      }
    })()
  }

  setPinState (cid: string, state: PinState): void {
    this.stmts.setState.run(state, Date.now(), cid)
  }

  rename (cid: string, name: string): void {
    this.stmts.rename.run(name, Date.now(), cid)
  }

  deletePin (cid: string): void {
    this.db.transaction(() => {
      this.stmts.deleteAllocs.run(cid)
      this.stmts.deletePin.run(cid)
    })()
  }

  allocations (cid: string): Allocation[] {
    return this.stmts.allocs.all(cid).map(r => ({
      cid: r.cid, member: r.member, status: r.status, error: r.error ?? undefined, attempts: r.attempts, updatedAt: r.updated_at,
    }))
  }

  setAllocation (cid: string, member: string, status: AllocationStatus, error?: string): void {
    this.stmts.setAlloc.run({ cid, member, status, error: error ?? null, attempts: status === 'error' ? 1 : 0, now: Date.now() })
  }

  deleteAllocation (cid: string, member: string): void {
    this.stmts.deleteAlloc.run(cid, member)
  }

  holders (cid: string): string[] {
    return this.stmts.holders.all(cid).map(r => r.member)
  }

  /**
   * Keyset pages of 1000: an open better-sqlite3 iterator would block every write from
   * concurrent requests while a slow client reads a long listing.
   */
  * list (opts: ListOptions = {}): IterableIterator<PinRecord> {
    const modes = opts.mode !== undefined ? [opts.mode] : ['recursive', 'direct'] as const
    let sql = 'SELECT * FROM pins WHERE mode = ? AND cid > ?'
    if (opts.state !== undefined) sql += ' AND state = @state'
    if (opts.nameContains !== undefined) sql += ' AND instr(name, @name) > 0'
    sql += ' ORDER BY cid LIMIT 1000'
    const page = this.db.prepare<unknown[], PinRow>(sql.replace('@state', '?').replace('@name', '?'))
    for (const mode of modes) {
      let after = ''
      for (;;) {
        const params: unknown[] = [mode, after]
        if (opts.state !== undefined) params.push(opts.state)
        if (opts.nameContains !== undefined) params.push(opts.nameContains)
        const rows = page.all(...params)
        for (const row of rows) yield toRecord(row)
        if (rows.length < 1000) break
        after = rows[rows.length - 1].cid
      }
    }
  }

  countsByMember (): Array<{ member: string, status: AllocationStatus, count: number }> {
    return this.stmts.counts.all()
  }

  close (): void {
    if (this.db.open) this.db.close()
  }
}

function toRecord (row: PinRow): PinRecord {
  return {
    cid: row.cid,
    name: row.name,
    mode: row.mode,
    state: row.state,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    replicationMin: row.rmin,
    replicationMax: row.rmax,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}
