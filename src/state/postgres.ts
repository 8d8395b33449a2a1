/**
 * @module state/postgres
 * The shared pinset store: several hubs on one PostgreSQL database, so that any of them
 * can answer `pin/ls` and unpin what another pinned, and one of them at a time (the
 * holder of a session advisory lock) runs the reconciler.
 *
 * Same contract as the SQLite store. Writes are group-committed the same way: the writes
 * issued during one event-loop turn, and then everything issued while a commit is in
 * flight, go into one transaction, in issue order, on one pooled connection; each
 * caller's promise resolves once that COMMIT returned (durable with PostgreSQL's default
 * `synchronous_commit`). One fsync per batch instead of one per write is what keeps a
 * burst of pins fast; one batch at a time keeps writes in the order they were issued.
 * A batch that fails is redone one write per transaction, so a bad write fails alone.
 * Reads go straight to the pool. Text keys use the "C" collation so CID order is byte
 * order, as in SQLite, whatever the database's locale. Schema changes are versioned in
 * `schema_migrations` and applied at open under an advisory lock, so hubs starting
 * together migrate once.
 */
import pg from 'pg'
import {
  PENDING_SQL,
  type Allocation, type AllocationStatus, type DueOptions, type Leadership, type ListAllocationsOptions, type ListOptions,
  type PendingSummary, type PinRecord, type PinState, type PinStore,
} from './store.js'
import { AdvisoryLease } from './postgres-lease.js'
import { toAllocation, toRecord, type AllocationRow, type PinRow } from './rows.js'

type Row = PinRow<Record<string, string>>
const METADATA = (stored: Record<string, string>): Record<string, string> => stored

const PAGE = 1000
/** Writes per transaction at most; the rest wait for the next one. */
const MAX_BATCH = 1000
/** Key of the advisory lock that serialises migrations (same key space as leadership names). */
const MIGRATION_LOCK = 'supercluster.schema_migrations'

const MIGRATIONS: string[] = [
  `CREATE TABLE pins (
     cid text COLLATE "C" PRIMARY KEY,
     name text NOT NULL DEFAULT '',
     mode text NOT NULL CHECK (mode IN ('recursive','direct')),
     state text NOT NULL CHECK (state IN ('pinned','unpinning')),
     metadata json NOT NULL DEFAULT '{}',
     rmin integer NOT NULL,
     rmax integer NOT NULL,
     created_at bigint NOT NULL,
     updated_at bigint NOT NULL
   );
   CREATE INDEX pins_mode ON pins (mode, cid);
   CREATE TABLE allocations (
     cid text COLLATE "C" NOT NULL,
     member text COLLATE "C" NOT NULL,
     status text NOT NULL CHECK (status IN ('queued','pinning','pinned','unpinning','error')),
     error text,
     attempts integer NOT NULL DEFAULT 0,
     next_attempt_at bigint NOT NULL DEFAULT 0,
     updated_at bigint NOT NULL,
     PRIMARY KEY (cid, member)
   );
   CREATE INDEX allocations_member ON allocations (member, cid);
   CREATE INDEX allocations_due ON allocations (next_attempt_at, updated_at) WHERE status IN (${PENDING_SQL});`,
  // 2: since when an allocation has been pending (retries keep it), for the stuck-intent age.
  `ALTER TABLE allocations ADD COLUMN pending_since bigint;
   UPDATE allocations SET pending_since = updated_at WHERE status IN (${PENDING_SQL});
   CREATE INDEX allocations_pending ON allocations (pending_since) WHERE status IN (${PENDING_SQL});`,
]

const SQL = {
  get: 'SELECT * FROM pins WHERE cid = $1',
  upsertPin: `INSERT INTO pins (cid, name, mode, state, metadata, rmin, rmax, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5::json, $6, $7, $8, $8)
    ON CONFLICT (cid) DO UPDATE SET name = EXCLUDED.name, mode = EXCLUDED.mode, state = EXCLUDED.state,
      metadata = EXCLUDED.metadata, rmin = EXCLUDED.rmin, rmax = EXCLUDED.rmax, updated_at = EXCLUDED.updated_at`,
  setState: 'UPDATE pins SET state = $2, updated_at = $3 WHERE cid = $1',
  rename: 'UPDATE pins SET name = $2, updated_at = $3 WHERE cid = $1',
  deletePin: 'DELETE FROM pins WHERE cid = $1',
  deleteAllocs: 'DELETE FROM allocations WHERE cid = $1',
  allocs: 'SELECT * FROM allocations WHERE cid = $1 ORDER BY member',
  setAlloc: `INSERT INTO allocations (cid, member, status, error, attempts, next_attempt_at, updated_at, pending_since)
    VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $3::text = 'pinned' THEN NULL ELSE $7::bigint END)
    ON CONFLICT (cid, member) DO UPDATE SET status = EXCLUDED.status, error = EXCLUDED.error,
      attempts = allocations.attempts + EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at,
      updated_at = EXCLUDED.updated_at,
      pending_since = CASE WHEN EXCLUDED.status = 'pinned' THEN NULL ELSE coalesce(allocations.pending_since, EXCLUDED.updated_at) END`,
  retry: `UPDATE allocations SET status = $3, error = $4, attempts = attempts + 1, next_attempt_at = $5, updated_at = $6,
      pending_since = CASE WHEN $3::text = 'pinned' THEN NULL ELSE coalesce(pending_since, $6::bigint) END
    WHERE cid = $1 AND member = $2`,
  deleteAlloc: 'DELETE FROM allocations WHERE cid = $1 AND member = $2',
  holders: "SELECT member FROM allocations WHERE cid = $1 AND status = 'pinned' ORDER BY member",
  due: `SELECT * FROM allocations WHERE status IN (${PENDING_SQL}) AND next_attempt_at <= $1
    ORDER BY next_attempt_at, updated_at, cid, member LIMIT $2`,
  counts: 'SELECT member, status, count(*)::integer AS count FROM allocations GROUP BY member, status',
  pending: `SELECT count(*)::integer AS count, min(pending_since) AS oldest FROM allocations WHERE status IN (${PENDING_SQL})`,
  underReplicated: `SELECT count(*)::integer AS count FROM pins p WHERE p.state = 'pinned'
    AND p.rmin > (SELECT count(*) FROM allocations a WHERE a.cid = p.cid AND a.status = 'pinned')`,
} as const

export interface PostgresPinStoreOptions {
  /** Pooled connections for reads and the writer (default 10); each lease adds one of its own. */
  maxConnections?: number
  /**
   * How often a held lease checks its connection, and how long that check may take
   * (default 5000 ms). A lease whose connection fails the check is lost.
   */
  leaseHeartbeatMs?: number
  /** Errors of idle connections (the pool replaces them); default: ignored. */
  onConnectionError?: (err: Error) => void
  /**
   * For tools that look at a live hub's state (`topology diff`): no migration (the schema
   * must be at this supercluster's version) and every transaction read-only.
   */
  readOnly?: boolean
}

type Work = (client: pg.PoolClient) => Promise<void>

interface PendingWrite {
  run: Work
  resolve: () => void
  reject: (err: unknown) => void
}

export class PostgresPinStore implements PinStore {
  private readonly pool: pg.Pool
  private readonly clientConfig: pg.ClientConfig
  private readonly heartbeatMs: number
  private readonly leases = new Set<AdvisoryLease>()
  private pending: PendingWrite[] = []
  private flushScheduled = false
  private draining: Promise<void> | undefined
  private closed = false

  private constructor (url: string, opts: PostgresPinStoreOptions) {
    const types = new pg.TypeOverrides()
    types.setTypeParser(pg.types.builtins.INT8, Number) // ms timestamps fit a double exactly
    this.clientConfig = { connectionString: url, types, keepAlive: true, connectionTimeoutMillis: 10_000, application_name: 'supercluster' }
    if (opts.readOnly === true) this.clientConfig.options = '-c default_transaction_read_only=on'

    this.heartbeatMs = opts.leaseHeartbeatMs ?? 5000
    this.pool = new pg.Pool({ ...this.clientConfig, max: opts.maxConnections ?? 10 })
    const onError = opts.onConnectionError ?? (() => {})
    this.pool.on('error', onError) // an idle pooled connection died; unhandled, it would crash the process
  }

  /** Connects to `url` (a postgres:// URL) and brings the schema up to date. */
  static async open (url: string, opts: PostgresPinStoreOptions = {}): Promise<PostgresPinStore> {
    const store = new PostgresPinStore(url, opts)
    try {
      await (opts.readOnly === true ? store.checkVersion() : store.migrate())
    } catch (err) {
      await store.pool.end().catch(() => {})
      throw new Error(`cannot open the PostgreSQL pin store at ${redact(url)}: ${(err as Error).message}`, { cause: err })
    }
    return store
  }

  /** Read-only opening: the schema must be exactly the one this code knows. */
  private async checkVersion (): Promise<void> {
    const exists = await this.pool.query<{ table: string | null }>("SELECT to_regclass('schema_migrations')::text AS table")
    const version = exists.rows[0].table === null
      ? 0
      : (await this.pool.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations')).rows[0].version ?? 0
    if (version !== MIGRATIONS.length) {
      throw new Error(`the database is at schema version ${version}, this supercluster reads version ${MIGRATIONS.length}; opened read-only, it is not migrated`)
    }
  }

  private async migrate (): Promise<void> {
    await this.transaction(async client => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [MIGRATION_LOCK])
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
      const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations')
      const version = rows[0].version ?? 0
      if (version > MIGRATIONS.length) {
        throw new Error(`the database is at schema version ${version}, newer than this hub knows (${MIGRATIONS.length}); upgrade the hub`)
      }
      for (let v = version; v < MIGRATIONS.length; v++) {
        await client.query(MIGRATIONS[v])
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [v + 1])
      }
    })
  }

  /** Queue a write for the next transaction. */
  private write (run: Work): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closed) { reject(new Error('pin store is closed')); return }
      this.pending.push({ run, resolve, reject })
      if (this.draining === undefined && !this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => { this.flushScheduled = false; void this.drain() })
      }
    })
  }

  /** Commits batches until nothing is pending; one batch in flight at a time. */
  private drain (): Promise<void> {
    this.draining ??= (async () => {
      try {
        while (this.pending.length > 0) await this.commit(this.pending.splice(0, MAX_BATCH))
      } finally {
        this.draining = undefined
      }
    })()
    return this.draining
  }

  /** Settles every write of `batch`; never throws. */
  private async commit (batch: PendingWrite[]): Promise<void> {
    try {
      await this.transaction(async client => { for (const w of batch) await w.run(client) })
      for (const w of batch) w.resolve()
      return
    } catch (err) {
      if (batch.length === 1) { batch[0].reject(err); return }
    }
    // One bad write must not fail its neighbours: redo them one transaction each.
    for (const w of batch) {
      try {
        await this.transaction(w.run)
        w.resolve()
      } catch (err) {
        w.reject(err)
      }
    }
  }

  private async transaction (work: Work): Promise<void> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    // A checked-out client has no pool listener: an unhandled 'error' would end the process.
    const onError = (err: Error): void => { broken = err }
    client.on('error', onError)
    try {
      await client.query('BEGIN')
      await work(client)
      await client.query('COMMIT')
    } catch (err) {
      // A server error leaves the connection usable; anything else (a dead socket) does not.
      if (!isServerError(err)) broken ??= err as Error
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.removeListener('error', onError)
      client.release(broken)
    }
  }

  async get (cid: string): Promise<PinRecord | undefined> {
    const { rows } = await this.pool.query<Row>({ name: 'get', text: SQL.get, values: [cid] })
    return rows.length === 0 ? undefined : toRecord(rows[0], METADATA)
  }

  async putPin (pin: Omit<PinRecord, 'createdAt' | 'updatedAt'>, allocations: Array<{ member: string, status: AllocationStatus }>): Promise<void> {
    await this.write(async client => {
      const now = Date.now()
      await client.query({
        name: 'upsertPin',
        text: SQL.upsertPin,
        values: [pin.cid, pin.name, pin.mode, pin.state, JSON.stringify(pin.metadata), pin.replicationMin, pin.replicationMax, now],
      })
      for (const a of allocations) {
        await client.query({ name: 'setAlloc', text: SQL.setAlloc, values: [pin.cid, a.member, a.status, null, 0, 0, now] })
      }
    })
  }

  async setPinState (cid: string, state: PinState): Promise<void> {
    await this.write(async client => { await client.query({ name: 'setState', text: SQL.setState, values: [cid, state, Date.now()] }) })
  }

  async rename (cid: string, name: string): Promise<void> {
    await this.write(async client => { await client.query({ name: 'rename', text: SQL.rename, values: [cid, name, Date.now()] }) })
  }

  async deletePin (cid: string): Promise<void> {
    await this.write(async client => {
      await client.query({ name: 'deleteAllocs', text: SQL.deleteAllocs, values: [cid] })
      await client.query({ name: 'deletePin', text: SQL.deletePin, values: [cid] })
    })
  }

  async allocations (cid: string): Promise<Allocation[]> {
    const { rows } = await this.pool.query<AllocationRow>({ name: 'allocs', text: SQL.allocs, values: [cid] })
    return rows.map(toAllocation)
  }

  async setAllocation (cid: string, member: string, status: AllocationStatus, error?: string): Promise<void> {
    await this.write(async client => {
      await client.query({
        name: 'setAlloc', text: SQL.setAlloc, values: [cid, member, status, error ?? null, status === 'error' ? 1 : 0, 0, Date.now()],
      })
    })
  }

  async scheduleRetry (cid: string, member: string, status: AllocationStatus, error: string | undefined, nextAttemptAt: number): Promise<void> {
    await this.write(async client => {
      await client.query({ name: 'retry', text: SQL.retry, values: [cid, member, status, error ?? null, nextAttemptAt, Date.now()] })
    })
  }

  async deleteAllocation (cid: string, member: string): Promise<void> {
    await this.write(async client => { await client.query({ name: 'deleteAlloc', text: SQL.deleteAlloc, values: [cid, member] }) })
  }

  async holders (cid: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ member: string }>({ name: 'holders', text: SQL.holders, values: [cid] })
    return rows.map(r => r.member)
  }

  /** Keyset pages, one query each: no cursor or connection is held while the caller is slow. */
  async * list (opts: ListOptions = {}): AsyncGenerator<PinRecord> {
    const modes = opts.mode !== undefined ? [opts.mode] : ['recursive', 'direct'] as const
    const values: unknown[] = ['', '']
    let sql = 'SELECT * FROM pins WHERE mode = $1 AND cid > $2'
    if (opts.state !== undefined) sql += ` AND state = $${values.push(opts.state)}`
    if (opts.nameContains !== undefined) sql += ` AND strpos(name, $${values.push(opts.nameContains)}) > 0`
    sql += ` ORDER BY cid LIMIT ${PAGE}`
    for (const mode of modes) {
      values[0] = mode
      values[1] = ''
      for (;;) {
        const { rows } = await this.pool.query<Row>(sql, values)
        for (const row of rows) yield toRecord(row, METADATA)
        if (rows.length < PAGE) break
        values[1] = rows[rows.length - 1].cid
      }
    }
  }

  async * listAllocations (opts: ListAllocationsOptions = {}): AsyncGenerator<Allocation> {
    const statuses = opts.status ?? []
    // With a member, (member, cid) is an index and member is fixed, so cid alone is the key.
    const values: unknown[] = opts.member !== undefined ? ['', opts.member] : ['', '']
    let sql = opts.member !== undefined
      ? 'SELECT * FROM allocations WHERE cid > $1 AND member = $2'
      : 'SELECT * FROM allocations WHERE (cid, member) > ($1, $2)'
    if (statuses.length > 0) sql += ` AND status = ANY($${values.push(statuses)}::text[])`
    sql += ` ORDER BY cid, member LIMIT ${PAGE}`
    for (;;) {
      const { rows } = await this.pool.query<AllocationRow>(sql, values)
      for (const row of rows) yield toAllocation(row)
      if (rows.length < PAGE) break
      const last = rows[rows.length - 1]
      values[0] = last.cid
      if (opts.member === undefined) values[1] = last.member
    }
  }

  async due (opts: DueOptions): Promise<Allocation[]> {
    const { rows } = await this.pool.query<AllocationRow>({ name: 'due', text: SQL.due, values: [opts.now, opts.limit] })
    return rows.map(toAllocation)
  }

  async countsByMember (): Promise<Array<{ member: string, status: AllocationStatus, count: number }>> {
    const { rows } = await this.pool.query<{ member: string, status: AllocationStatus, count: number }>({ name: 'counts', text: SQL.counts })
    return rows
  }

  async pendingSummary (): Promise<PendingSummary> {
    const { rows } = await this.pool.query<{ count: number, oldest: number | null }>({ name: 'pending', text: SQL.pending })
    return { count: rows[0].count, oldestSince: rows[0].oldest ?? undefined }
  }

  /** One query: the scan runs in the server, not in this process. */
  async underReplicated (): Promise<number> {
    const { rows } = await this.pool.query<{ count: number }>({ name: 'underReplicated', text: SQL.underReplicated })
    return rows[0].count
  }

  async leadership (name: string): Promise<Leadership> {
    if (this.closed) throw new Error('pin store is closed')
    const lease = new AdvisoryLease(name, this.clientConfig, this.heartbeatMs)
    this.leases.add(lease)
    return lease
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.drain() // writes already issued still land
    await Promise.all([...this.leases].map(async lease => { await lease.close() }))
    await this.pool.end()
  }
}

/** An error the server sent (it has a SQLSTATE); the connection is still fine after one. */
function isServerError (err: unknown): boolean {
  return err instanceof pg.DatabaseError && err.severity !== 'FATAL' && err.severity !== 'PANIC'
}

function redact (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'postgres://…'
  }
}
