/**
 * @module state/postgres-lease
 * Leadership for hubs sharing one PostgreSQL database.
 */
import pg from 'pg'
import type { Leadership } from './store.js'

/**
 * A session advisory lock on `hashtext(name)`, taken on a connection of its own that stays
 * open for as long as the lease is held: PostgreSQL drops the lock when that session ends,
 * so a hub that dies (or is cut off) loses its lease and another hub's `tryAcquire`
 * succeeds. A heartbeat notices a connection that stopped answering; `onLost` fires then,
 * or at once when the server ends the session.
 */
export class AdvisoryLease implements Leadership {
  private client: pg.Client | undefined
  private holding = false
  private heartbeat: NodeJS.Timeout | undefined
  private readonly lostListeners: Array<() => void> = []
  private busy: Promise<unknown> = Promise.resolve()
  private closed = false

  constructor (
    private readonly name: string,
    private readonly config: pg.ClientConfig,
    private readonly heartbeatMs: number,
  ) {}

  get held (): boolean { return this.holding }

  /** One `tryAcquire`/`release` at a time. */
  private serial<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.busy.then(fn, fn)
    this.busy = next.catch(() => {})
    return next
  }

  tryAcquire (): Promise<boolean> {
    return this.serial(async () => {
      if (this.holding) return true
      if (this.closed) throw new Error('pin store is closed')
      const client = await this.connect()
      const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [this.name])
      if (!rows[0].ok || this.client !== client) return false
      this.holding = true
      this.heartbeat = setInterval(() => { void this.beat(client) }, this.heartbeatMs)
      this.heartbeat.unref()
      return true
    })
  }

  release (): Promise<void> {
    return this.serial(async () => {
      if (!this.holding) return
      this.holding = false
      const client = this.client
      this.drop()
      if (client === undefined) return
      // Unlock explicitly so another hub can take it at once, then close the session.
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [this.name]).catch(() => {})
      await client.end().catch(() => {})
    })
  }

  onLost (fn: () => void): void {
    this.lostListeners.push(fn)
  }

  /** Releases and closes the connection for good (the store is closing). */
  async close (): Promise<void> {
    this.closed = true
    await this.release()
    await this.serial(async () => {
      const client = this.client
      this.drop()
      await client?.end().catch(() => {})
    })
  }

  private async connect (): Promise<pg.Client> {
    if (this.client !== undefined) return this.client
    const client = new pg.Client({ ...this.config, query_timeout: this.heartbeatMs })
    const gone = (): void => { this.lost(client) }
    client.on('error', gone)
    client.on('end', gone)
    this.client = client
    try {
      await client.connect()
    } catch (err) {
      this.lost(client)
      throw err
    }
    return client
  }

  private async beat (client: pg.Client): Promise<void> {
    try {
      await client.query('SELECT 1')
    } catch {
      this.lost(client)
    }
  }

  /** `client` died or stopped answering: forget it, and tell the listeners if it held the lock. */
  private lost (client: pg.Client): void {
    if (this.client !== client) return
    this.drop()
    client.end().catch(() => {})
    if (!this.holding) return
    this.holding = false
    for (const fn of this.lostListeners) {
      try { fn() } catch {}
    }
  }

  private drop (): void {
    clearInterval(this.heartbeat)
    this.heartbeat = undefined
    this.client = undefined
  }
}
