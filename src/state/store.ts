/**
 * @module state/store
 * The hub's desired pinset and what each member holds. The hub answers `pin/ls`, routes
 * reads and unpins from here, so it writes an intent before it fans a pin out and keeps it
 * until the members are driven there. One interface; SQLite is the embedded default,
 * and a shared PostgreSQL backend for several hubs implements the same contract.
 */

export type PinMode = 'recursive' | 'direct'
/** Desired state of a pin: kept, or being removed (a tombstone until members are done). */
export type PinState = 'pinned' | 'unpinning'
export type AllocationStatus = 'queued' | 'pinning' | 'pinned' | 'unpinning' | 'error'

export interface PinRecord {
  cid: string
  name: string
  mode: PinMode
  state: PinState
  metadata: Record<string, string>
  replicationMin: number
  replicationMax: number
  createdAt: number
  updatedAt: number
}

export interface Allocation {
  cid: string
  member: string
  status: AllocationStatus
  error?: string
  attempts: number
  /** When the reconciler should next work on it, ms since the epoch; 0 = now. */
  nextAttemptAt: number
  updatedAt: number
}

/** Statuses that still need work from the hub: `due` returns these. */
export const PENDING_STATUSES: readonly AllocationStatus[] = ['queued', 'pinning', 'unpinning', 'error']

/** The same as an SQL list, for `status IN (...)` in both backends' queries and partial indexes. */
export const PENDING_SQL = PENDING_STATUSES.map(s => `'${s}'`).join(',')

export interface ListAllocationsOptions {
  member?: string
  /** Any of these statuses; absent or empty = every status. */
  status?: AllocationStatus[]
}

/** The backlog of work the store holds, for metrics and status. */
export interface PendingSummary {
  /** Allocations whose status needs work (PENDING_STATUSES). */
  count: number
  /**
   * Since when (ms since the epoch) the longest-waiting of them has been pending: when it
   * was created or last left `pinned`. Retries do not move it. Undefined when none.
   */
  oldestSince?: number
}

export interface DueOptions {
  /** ms since the epoch; allocations with `nextAttemptAt <= now` are due. */
  now: number
  limit: number
}

/**
 * A named lease that at most one holder has at a time, for work only one hub may do
 * (the reconciler). SQLite: this process is the only one, so it always succeeds (two
 * leaderships of one name on one store still exclude each other). PostgreSQL: a session
 * advisory lock on a connection of its own, so a hub that dies loses it with its connection.
 */
export interface Leadership {
  /** True between a successful `tryAcquire` and `release` or loss. */
  readonly held: boolean
  /** Takes the lease if free; true if this holder has it (now or already). Never waits. */
  tryAcquire (): Promise<boolean>
  /** Gives the lease up; a no-op when not held. Does not fire `onLost`. */
  release (): Promise<void>
  /**
   * Called every time the lease is lost without `release` (its connection died or
   * stopped answering). The holder must stop the guarded work; `tryAcquire` may be
   * called again afterwards.
   */
  onLost (fn: () => void): void
}

export interface ListOptions {
  mode?: PinMode
  state?: PinState
  /** Case-sensitive substring of the pin name. */
  nameContains?: string
}

/**
 * Every method is asynchronous so that backends can batch (SQLite commits the writes of
 * one event-loop turn together) or live across the network (PostgreSQL). A write has
 * reached durable storage when its promise resolves.
 */
export interface PinStore {
  get (cid: string): Promise<PinRecord | undefined>
  /** Insert or replace a pin's desired record together with its allocations, atomically. */
  putPin (pin: Omit<PinRecord, 'createdAt' | 'updatedAt'>, allocations: Array<{ member: string, status: AllocationStatus }>): Promise<void>
  setPinState (cid: string, state: PinState): Promise<void>
  rename (cid: string, name: string): Promise<void>
  /** Remove the pin and every allocation row. */
  deletePin (cid: string): Promise<void>
  allocations (cid: string): Promise<Allocation[]>
  /**
   * Insert or update one allocation; `attempts` goes up by one when `status` is 'error'
   * and `nextAttemptAt` returns to 0 (due now, if the status needs work).
   */
  setAllocation (cid: string, member: string, status: AllocationStatus, error?: string): Promise<void>
  /**
   * Record a failed or postponed attempt: sets `status` and `error`, adds one to
   * `attempts`, and makes the allocation due again at `nextAttemptAt` (ms since the epoch).
   * A no-op when the allocation no longer exists (an unpin removed it meanwhile), so a
   * late retry never brings a removed allocation back.
   */
  scheduleRetry (cid: string, member: string, status: AllocationStatus, error: string | undefined, nextAttemptAt: number): Promise<void>
  deleteAllocation (cid: string, member: string): Promise<void>
  /** Members whose allocation is `pinned`. */
  holders (cid: string): Promise<string[]>
  /** Streams pins in CID order (recursive first when no mode is given), never all at once. */
  list (opts?: ListOptions): AsyncIterable<PinRecord>
  /**
   * Streams allocations in (cid, member) order, a page at a time, never all at once.
   * For the reconciler (one member's share) and for status.
   */
  listAllocations (opts?: ListAllocationsOptions): AsyncIterable<Allocation>
  /**
   * Up to `limit` allocations that need work (queued, pinning, unpinning or error) and
   * whose `nextAttemptAt <= now`, oldest first: by `nextAttemptAt`, then `updatedAt`,
   * then (cid, member). Cheap enough to poll every second (indexed).
   */
  due (opts: DueOptions): Promise<Allocation[]>
  /** Pins per member and status, for metrics and status. */
  countsByMember (): Promise<Array<{ member: string, status: AllocationStatus, count: number }>>
  /** How many allocations are pending and since when the oldest has been. Indexed: cheap enough for every scrape. */
  pendingSummary (): Promise<PendingSummary>
  /**
   * Pins (state `pinned`) with fewer `pinned` allocations than their `replicationMin`.
   * A scan of the whole pinset, in pages that let other work through between them:
   * call it now and then (the hub caches it), not per request.
   */
  underReplicated (): Promise<number>
  /**
   * The lease called `name` (not yet acquired). Each call gives an independent contender;
   * `close` releases every lease the store handed out.
   */
  leadership (name: string): Promise<Leadership>
  /** Lands writes already issued, releases leases, then closes connections. */
  close (): Promise<void>
}
