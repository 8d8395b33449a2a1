/**
 * @module placement/moves
 * How many pins a topology change would move (`topology diff --state`): each pin of the
 * hub's pinset is placed under the old and the new topology with the placement code the
 * hub runs, every member assumed up and each topology's draining members left out, and
 * the two member sets are compared. A pin keeps the replication recorded when it was
 * pinned, as the reconciler does; only where its copies go can change.
 */
import type { PinRecord } from '../state/store.js'
import type { Topology } from '../topology/index.js'
import { Placement } from './placement.js'

export type PlacedPin = Pick<PinRecord, 'cid' | 'name' | 'replicationMin' | 'replicationMax'>

export interface MemberMoves {
  name: string
  /** Copies this member holds under the old topology. */
  before: number
  after: number
  /** Copies it gains. */
  added: number
  /** Copies it loses. */
  removed: number
}

export interface PinMoves {
  /** Pins looked at. */
  pins: number
  /** Pins whose member set changes. */
  moved: number
  /** Every member of either topology, in old-then-new topology order. */
  members: MemberMoves[]
}

/** The members a topology places a pin on, all members up (placement leaves draining ones out). */
function placer (topology: Topology): (pin: PlacedPin) => string[] {
  const placement = new Placement(topology, () => true)
  return (pin) => {
    const decision = placement.place({
      key: pin.cid, name: pin.name, replication: { min: pin.replicationMin, max: pin.replicationMax },
    })
    return decision.ranked.slice(0, decision.replication.max)
  }
}

/** Compare where `pins` go under `before` and `after`, streaming (the pinset is never held in memory). */
export async function countPinMoves (pins: AsyncIterable<PlacedPin>, before: Topology, after: Topology): Promise<PinMoves> {
  const placeBefore = placer(before)
  const placeAfter = placer(after)
  const names = [...new Set([...before.members, ...after.members].map(m => m.name))]
  const per = new Map(names.map(name => [name, { name, before: 0, after: 0, added: 0, removed: 0 }]))
  let count = 0
  let moved = 0
  for await (const pin of pins) {
    count++
    const was = new Set(placeBefore(pin))
    const will = new Set(placeAfter(pin))
    let changed = false
    for (const m of was) {
      per.get(m)!.before++
      if (!will.has(m)) { per.get(m)!.removed++; changed = true }
    }
    for (const m of will) {
      per.get(m)!.after++
      if (!was.has(m)) { per.get(m)!.added++; changed = true }
    }
    if (changed) moved++
  }
  return { pins: count, moved, members: [...per.values()] }
}
