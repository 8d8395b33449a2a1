/**
 * @module log
 * Structured JSON lines (pino) on stderr. The level comes from the caller (CLI flag) or
 * SUPERCLUSTER_LOG_LEVEL. Lines written for a request carry its id (`reqId`, from
 * request-context's `logFields`). Header values and anything that looks like a
 * credential are redacted so secrets never reach the log.
 */
import { pino } from 'pino'

export type Logger = pino.Logger

/** Paths censored in every line: whole header maps, at any of the first three levels, and credential fields. */
const REDACT = ['headers', '*.headers', '*.*.headers', 'token', 'password', 'secret', '*.token', '*.password', '*.secret']

export function createLogger (level?: string, destination: number | pino.DestinationStream = 2): Logger {
  return pino({
    level: level ?? process.env.SUPERCLUSTER_LOG_LEVEL ?? 'info',
    base: { app: 'supercluster' },
    redact: { paths: REDACT, censor: '***' },
  }, typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination)
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
