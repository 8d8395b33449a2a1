/**
 * @module hub/import
 * Adopting a member's pins into the hub's pinset: the reconciler only reports pins it
 * finds on a member that the hub does not know (they may belong to someone else), so an
 * operator adopts them explicitly. Each becomes a pin with the default replication,
 * already held by that member; placement tops it up to `min` later.
 */
import type { MemberClient } from '../members/client.js'
import type { HubComponents } from './components.js'
import type { RequestScope } from '../request-context.js'

export interface ImportProgress {
  Scanned: number
  Adopted: number
  Known: number
}

export async function importPins (h: HubComponents, m: MemberClient, { signal, scope }: { signal: AbortSignal, scope: RequestScope }, progress: (p: ImportProgress) => void): Promise<ImportProgress> {
  const p: ImportProgress = { Scanned: 0, Adopted: 0, Known: 0 }
  const { min, max } = h.topology.defaults.replication
  for (const type of ['recursive', 'direct'] as const) {
    for await (const entry of m.ndjson<{ Cid?: string, Type?: string, Name?: string }>('pin/ls', { query: { type, stream: true, names: true }, scope, signal })) {
      if (typeof entry.Cid !== 'string') continue
      // A cluster proxy ignores `type` and lists everything in both passes; keep its own word.
      const mode = entry.Type === 'direct' ? 'direct' : entry.Type === 'recursive' ? 'recursive' : type
      if (mode !== type) continue
      p.Scanned++
      const existing = await h.store.get(entry.Cid)
      if (existing !== undefined) {
        p.Known++
      } else {
        await h.store.putPin({
          cid: entry.Cid, name: entry.Name ?? '', mode, state: 'pinned', metadata: {}, replicationMin: min, replicationMax: max,
        }, [{ member: m.name, status: 'pinned' }])
        p.Adopted++
      }
      progress({ ...p })
    }
  }
  return p
}
