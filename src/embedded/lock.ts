/**
 * @module embedded/lock
 * The GC lock. Kubo holds a "pin lock" while it adds or pins so that garbage collection
 * cannot delete blocks that were just written but are not pinned yet; GC takes the lock
 * exclusively. Many adds/pins may run at once (shared); a waiting GC blocks new sharers
 * so it cannot starve.
 */

interface Waiter { exclusive: boolean, grant: () => void }

export class GcLock {
  private sharers = 0
  private exclusiveHeld = false
  private readonly queue: Waiter[] = []

  /** Take the lock shared (add, pin, import). Resolves to the release function. */
  shared (signal?: AbortSignal): Promise<() => void> {
    return this.acquire(false, signal)
  }

  /** Take the lock exclusively (GC). Resolves to the release function. */
  exclusive (signal?: AbortSignal): Promise<() => void> {
    return this.acquire(true, signal)
  }

  private acquire (exclusive: boolean, signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted()
    if (this.queue.length === 0 && this.canGrant(exclusive)) {
      return Promise.resolve(this.take(exclusive))
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        exclusive,
        grant: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve(this.take(exclusive))
        }
      }
      const onAbort = (): void => {
        const i = this.queue.indexOf(waiter)
        if (i >= 0) this.queue.splice(i, 1)
        reject(signal?.reason)
        this.drain()
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.queue.push(waiter)
    })
  }

  private canGrant (exclusive: boolean): boolean {
    return exclusive ? !this.exclusiveHeld && this.sharers === 0 : !this.exclusiveHeld
  }

  private take (exclusive: boolean): () => void {
    if (exclusive) this.exclusiveHeld = true
    else this.sharers++
    let released = false
    return () => {
      if (released) return
      released = true
      if (exclusive) this.exclusiveHeld = false
      else this.sharers--
      this.drain()
    }
  }

  private drain (): void {
    while (this.queue.length > 0 && this.canGrant(this.queue[0].exclusive)) {
      const next = this.queue.shift() as Waiter
      next.grant()
      if (next.exclusive) break
    }
  }
}
