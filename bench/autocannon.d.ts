/**
 * @module bench/autocannon
 * autocannon 8 ships no type declarations; this declares only the part of its programmatic
 * API the benchmarks call (callback form, the per-response event, the aggregate result).
 * Kept as a script file (no top-level import) so that `declare module` is a declaration,
 * not an augmentation.
 */
declare module 'autocannon' {
  namespace autocannon {
    interface Options {
      url: string
      method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'PATCH'
      connections?: number
      pipelining?: number
      /** Seconds. */
      duration?: number
      /** Stop after this many requests instead of after `duration`. */
      amount?: number
      /** Seconds before a request counts as timed out. */
      timeout?: number
      headers?: Record<string, string>
      body?: string | Buffer
      excludeErrorStats?: boolean
    }

    interface Histogram {
      average: number
      mean: number
      stddev: number
      min: number
      max: number
      total: number
      p50: number
      p90: number
      p99: number
    }

    interface Result {
      duration: number
      errors: number
      timeouts: number
      non2xx: number
      resets: number
      '2xx': number
      statusCodeStats: Record<string, { count: number }>
      latency: Histogram
      requests: Histogram & { sent: number }
      throughput: Histogram
    }

    interface Instance extends import('node:events').EventEmitter {
      stop: () => void
      /** (client, statusCode, resBytes, responseTimeMs) for every response. */
      on: ((event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void) => this) &
        ((event: string, listener: (...args: any[]) => void) => this)
    }
  }

  function autocannon (opts: autocannon.Options, cb: (err: Error | null, result: autocannon.Result) => void): autocannon.Instance

  export default autocannon
}
