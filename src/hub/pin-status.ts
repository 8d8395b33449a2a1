/**
 * @module hub/pin-status
 * One pin as the admin API reports it (`GET /supercluster/v1/pins/{cid}`): the desired
 * record, its allocations as the store has them, and what each allocated member says
 * right now. A member that is itself a hub is also asked for its own report of the pin,
 * which is nested under that member, so an upper hub shows the members of the hubs below
 * it, level by level. The lower hub is asked with the via chain (a loop answers 508, which
 * becomes this answer) and within a bounded time (a slow level is reported, not waited for).
 */
import { anySignal } from 'any-signal'
import type { MemberClient } from '../members/client.js'
import { liveStatus, type LiveAnswer } from '../members/live-status.js'
import { errorMessage, isLoopRefusal } from '../errors.js'
import type { Allocation, PinRecord } from '../state/store.js'
import type { HubComponents } from './components.js'
import type { RequestScope } from '../request-context.js'

/** How long a lower hub gets to report on the pin. */
const LOWER_HUB_TIMEOUT_MS = 5_000

export interface MemberLive extends LiveAnswer {
  /** Members of kind hub: that hub's own report of the pin. */
  hub?: PinReport
  /** Members of kind hub: why its report is missing. */
  hubError?: string
}

export type PinReport = PinRecord & {
  allocations: Allocation[]
  live?: Record<string, MemberLive>
}

/** The report of one pin, or undefined when this hub does not have it. */
export async function pinReport (h: HubComponents, cid: string, opts: { live: boolean, signal: AbortSignal, scope: RequestScope }): Promise<PinReport | undefined> {
  const pin = await h.store.get(cid)
  if (pin === undefined) return undefined
  const allocations = await h.store.allocations(cid)
  if (!opts.live) return { ...pin, allocations }
  const live = await Promise.all(allocations.map(async a => {
    const m = h.members.get(a.member)
    if (m === undefined) return [a.member, { status: 'unreachable', error: 'not in the topology', source: 'pin/ls' }] as const
    const [answer, lower] = await Promise.all([
      liveStatus(m, cid, opts.signal, opts.scope),
      m.kind === 'hub' ? lowerReport(m, cid, opts.signal, opts.scope) : undefined,
    ])
    return [a.member, { ...answer, ...lower }] as const
  }))
  return { ...pin, allocations, live: Object.fromEntries(live) }
}

/** A lower hub's report of the pin, or why there is none; its 508 is thrown. */
async function lowerReport (m: MemberClient, cid: string, signal: AbortSignal, scope: RequestScope): Promise<Pick<MemberLive, 'hub' | 'hubError'>> {
  const bounded = anySignal([signal, AbortSignal.timeout(LOWER_HUB_TIMEOUT_MS)])
  try {
    const res = await m.adminGet('admin/pins', `/supercluster/v1/pins/${encodeURIComponent(cid)}`, { scope, signal: bounded, timeoutMs: LOWER_HUB_TIMEOUT_MS })
    if (res.status === 200) return { hub: JSON.parse(res.text) as PinReport }
    const err = m.answerError(res, res.text)
    if (isLoopRefusal(err)) throw err
    return { hubError: res.status === 404 ? `not pinned on hub ${m.name}` : `hub ${m.name} answered ${res.status}: ${err.message}` }
  } catch (err) {
    if (isLoopRefusal(err)) throw err
    signal.throwIfAborted()
    return { hubError: `hub ${m.name}: ${bounded.aborted ? `no report within ${LOWER_HUB_TIMEOUT_MS} ms` : errorMessage(err)}` }
  } finally {
    bounded.clear()
  }
}
