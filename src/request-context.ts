/**
 * @module request-context
 * What a member request is made for: the inbound request's id, so that the log lines
 * written for it and every request sent to a member on its behalf carry the same id, and
 * the hubs it has passed (`hub/via`), for loop safety. The scope is passed along with the
 * AbortSignal, explicitly: an AsyncLocalStorage would do it implicitly, but on Node 20 it
 * turns on promise tracking for every promise in the process, a fifth of the CPU of a
 * passed-through request. Member requests take a scope as a required field, so no call
 * can forget it; work outside a request (health probes, the reconciler) says BACKGROUND.
 */
import { randomUUID } from 'node:crypto'

export const REQUEST_ID_HEADER = 'x-request-id'

/** Ids taken from a client as they are: short, and nothing that could forge a log line. */
const ACCEPTED = /^[A-Za-z0-9._:@/+=-]{1,128}$/

export interface RequestScope {
  /** The inbound request's id; absent for background work. */
  readonly id?: string
  /** Hub ids the request has passed; empty for a client's own request and for background work. */
  readonly via: readonly string[]
}

/** The scope of work no request asked for. */
export const BACKGROUND: RequestScope = Object.freeze({ via: Object.freeze([]) })

/** The client's `X-Request-Id` when it is a plain token of at most 128 characters, else a new UUID. */
export function requestIdFrom (header: string | null | undefined): string {
  return header !== null && header !== undefined && ACCEPTED.test(header) ? header : randomUUID()
}

/** `{ reqId }` for a log line written for the request, nothing for background work. */
export function logFields (scope: RequestScope): { reqId?: string } {
  return scope.id === undefined ? {} : { reqId: scope.id }
}
