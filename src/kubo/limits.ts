/**
 * @module kubo/limits
 * What one client may cost the server: the size of a request body and how long it may
 * stall (checked while the body streams, so nothing is buffered to measure it), and how
 * many requests one client address may have in flight. Header size and the time to send
 * the head are Node's own server options (`hub/start`).
 */
import { Transform, type Readable } from 'node:stream'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Context, MiddlewareHandler } from 'hono'
import { BodyTimeoutError, PayloadTooLargeError, TooManyRequestsError, type HubError } from '../errors.js'
import { errorResponse } from './respond.js'
import { Counts } from '../counts.js'

export interface BodyLimits {
  /** Largest request body in bytes; 0 or absent = no limit. */
  maxBodyBytes?: number
  /** Longest wait for the next body chunk while the reader is waiting for it; 0 or absent = none. */
  bodyIdleTimeoutMs?: number
}

/**
 * One request's body limits. `error` is set once a limit tripped: the transport answers
 * with it whatever error the body's reader ended up with.
 */
export class BodyGuard {
  error?: HubError
  private readonly max: number
  private readonly idleMs: number

  constructor (limits: BodyLimits = {}) {
    this.max = limits.maxBodyBytes ?? 0
    this.idleMs = limits.bodyIdleTimeoutMs ?? 0
  }

  /** Refuses at once a body whose declared length is over the limit. */
  checkLength (contentLength: string | undefined): void {
    if (this.max > 0 && contentLength !== undefined && Number(contentLength) > this.max) {
      throw (this.error = new PayloadTooLargeError(this.max))
    }
  }

  /**
   * The body, counted and watched. Over the limit or stalled, the returned stream fails
   * with the limit's error and the source is left unread (the answer closes the connection).
   */
  wrap (source: Readable): Readable {
    if (this.max <= 0 && this.idleMs <= 0) return source
    let received = 0
    let timer: NodeJS.Timeout | undefined
    const trip = (err: HubError): void => {
      if (timer !== undefined) clearTimeout(timer)
      this.error ??= err
      source.unpipe(guarded)
      source.pause()
      guarded.destroy(err)
    }
    // A stall is the client's only when everything it sent has been taken by the reader:
    // a slow reader (a member taking an upload slowly) keeps data buffered here.
    // One timer for the whole body, pushed back on each chunk (not one new timer per chunk).
    const arm = (): void => {
      if (this.idleMs <= 0) return
      if (timer !== undefined) {
        timer.refresh()
        return
      }
      timer = setTimeout(() => {
        if (guarded.readableLength > 0 || guarded.writableLength > 0) arm()
        else trip(new BodyTimeoutError(this.idleMs))
      }, this.idleMs)
      timer.unref()
    }
    const guarded = new Transform({
      transform: (chunk: Buffer, _enc, cb) => {
        received += chunk.length
        if (this.max > 0 && received > this.max) {
          trip(new PayloadTooLargeError(this.max))
          cb()
          return
        }
        arm()
        cb(null, chunk)
      },
      flush: (cb) => {
        if (timer !== undefined) clearTimeout(timer)
        cb()
      },
    })
    guarded.once('close', () => { if (timer !== undefined) clearTimeout(timer) })
    source.once('error', (err) => { guarded.destroy(err) })
    arm()
    source.pipe(guarded)
    return guarded
  }
}

/**
 * At most `max` requests in flight per client address (0 = no limit); the one over it
 * gets 429 in Kubo's error shape. A request counts until its response is finished or
 * its connection closed, streamed answers included.
 */
export function clientConcurrency (max: number): MiddlewareHandler {
  const inflight = new Counts<string>()
  return async function limitClients (c: Context, next) {
    if (max <= 0) { await next(); return }
    const env = c.env as { incoming?: IncomingMessage, outgoing?: ServerResponse } | undefined
    const key = env?.incoming?.socket.remoteAddress ?? 'local'
    if (inflight.get(key) >= max) return errorResponse(new TooManyRequestsError(max), { command: false })
    inflight.add(key)
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      inflight.remove(key)
    }
    const out = env?.outgoing
    if (out === undefined) {
      try { await next() } finally { release() }
      return
    }
    out.once('close', release)
    try {
      await next()
    } catch (err) {
      release()
      throw err
    }
  }
}
