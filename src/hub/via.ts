/**
 * @module hub/via
 * Loop safety for hubs over hubs. Every request a hub sends to a member carries, in the
 * `x-supercluster-via` header, the ids of the hubs the work has passed: the inbound
 * request's chain plus this hub's id. A hub that finds its own id in an inbound chain, or
 * a chain `hub.max_depth` long, refuses with 508 before asking any member, so a loop in a
 * topology costs one hop, not an explosion.
 *
 * The chain is read once per inbound request into its scope (request-context), which
 * travels with the request's AbortSignal to every member request made for it: fan-out,
 * passthrough, pin queues and the add tee. Work outside a request (reconciler, health
 * probes) and a plain client's request have no chain and send this hub's id alone.
 */
import { LoopDetectedError } from '../errors.js'
import { VIA_HEADER } from '../members/client.js'
import type { RequestScope } from '../request-context.js'

export { VIA_HEADER }

/** Hub ids in a via header, in order; blanks dropped (several header lines arrive joined by commas). */
export function parseVia (header: string | null | undefined): string[] {
  if (header === null || header === undefined) return []
  return header.split(',').map(s => s.trim()).filter(s => s !== '')
}

export interface ViaInit {
  /** This hub's id and depth cap (read per request, so a reloaded topology applies). */
  hub: () => { id: string, maxDepth: number }
  /** Told about each refusal, for the metric. */
  onReject?: (reason: 'loop' | 'depth') => void
}

export class ViaChain {
  private readonly init: ViaInit

  constructor (init: ViaInit) {
    this.init = init
  }

  /**
   * The 508 an inbound chain earns, or undefined when it may pass: this hub's id already
   * in it (a loop), or `max_depth` hubs passed already.
   */
  refusal (chain: readonly string[]): LoopDetectedError | undefined {
    const { id, maxDepth } = this.init.hub()
    if (chain.includes(id)) {
      return new LoopDetectedError(`request loop: hub "${id}" is already in the chain ${chain.join(',')}`, 'loop')
    }
    if (chain.length >= maxDepth) {
      return new LoopDetectedError(`hierarchy too deep: the request has passed ${chain.length} hubs (${chain.join(',')}); hub "${id}" has hub.max_depth ${maxDepth}`, 'depth')
    }
    return undefined
  }

  /** Throws the 508 the chain earns (and counts it); returns when the request may pass. */
  admit (chain: readonly string[]): void {
    if (chain.length === 0) return
    const refused = this.refusal(chain)
    if (refused === undefined) return
    this.init.onReject?.(refused.reason)
    throw refused
  }

  /** The header value for a member request made for `scope`: its chain and this hub. */
  outbound (scope: RequestScope): string {
    const id = this.init.hub().id
    return scope.via.length === 0 ? id : `${scope.via.join(',')},${id}`
  }
}
