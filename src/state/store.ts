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
  updatedAt: number
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
  setAllocation (cid: string, member: string, status: AllocationStatus, error?: string): Promise<void>
  deleteAllocation (cid: string, member: string): Promise<void>
  /** Members whose allocation is `pinned`. */
  holders (cid: string): Promise<string[]>
  /** Streams pins in CID order (recursive first when no mode is given), never all at once. */
  list (opts?: ListOptions): AsyncIterable<PinRecord>
  /** Pins per member and status, for metrics and status. */
  countsByMember (): Promise<Array<{ member: string, status: AllocationStatus, count: number }>>
  close (): Promise<void>
}
