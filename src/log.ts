/**
 * @module log
 * Structured JSON lines (pino) on stderr. The level comes from the caller (CLI flag) or
 * SUPERCLUSTER_LOG_LEVEL; header values and anything that looks like a credential are
 * redacted so secrets never reach the log.
 */
import { pino } from 'pino'

export type Logger = pino.Logger

export function createLogger (level?: string, destination = 2): Logger {
  return pino({
    level: level ?? process.env.SUPERCLUSTER_LOG_LEVEL ?? 'info',
    base: { app: 'supercluster' },
    redact: {
      paths: ['headers.authorization', 'headers.Authorization', '*.headers', 'token', 'password', 'secret'],
      censor: '***',
    },
  }, pino.destination({ fd: destination, sync: false }))
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
