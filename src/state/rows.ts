/**
 * @module state/rows
 * The row shapes both SQL backends share and their mapping to the store's records; the
 * backends differ only in how `metadata` is stored (TEXT holding JSON in SQLite, JSONB
 * that pg already parses in PostgreSQL).
 */
import type { Allocation, AllocationStatus, PinRecord, PinState } from './store.js'

export interface PinRow<Metadata> {
  cid: string
  name: string
  mode: 'recursive' | 'direct'
  state: PinState
  metadata: Metadata
  rmin: number
  rmax: number
  created_at: number
  updated_at: number
}

export interface AllocationRow {
  cid: string
  member: string
  status: AllocationStatus
  error: string | null
  attempts: number
  next_attempt_at: number
  updated_at: number
}

export function toAllocation (r: AllocationRow): Allocation {
  return {
    cid: r.cid,
    member: r.member,
    status: r.status,
    error: r.error ?? undefined,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    updatedAt: r.updated_at,
  }
}

export function toRecord<M> (row: PinRow<M>, metadata: (stored: M) => Record<string, string>): PinRecord {
  return {
    cid: row.cid,
    name: row.name,
    mode: row.mode,
    state: row.state,
    metadata: metadata(row.metadata),
    replicationMin: row.rmin,
    replicationMax: row.rmax,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}
