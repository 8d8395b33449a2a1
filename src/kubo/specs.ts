/**
 * @module kubo/specs
 * Option lists of Kubo commands that more than one surface serves (the hub and the
 * embedded node), declared once so both parse and reject alike.
 */
import type { OptionSpec } from './options.js'

/** The Kubo API version the hub and the embedded node speak (strict semver: the Go CLI parses it). */
export const KUBO_VERSION = '0.44.0'

/** `version`'s answer; built once per server, since nothing in it changes. */
export function versionInfo (golang: string): Record<string, string> {
  return { Version: KUBO_VERSION, Commit: '', Repo: '18', System: `${process.arch === 'x64' ? 'amd64' : process.arch}/${process.platform}`, Golang: golang }
}

/** `version` options: they change the CLI's text rendering only. */
export const VERSION_OPTIONS: OptionSpec[] = [
  { name: 'number', aliases: ['n'], type: 'bool' }, { name: 'commit', type: 'bool' }, { name: 'repo', type: 'bool' }, { name: 'all', type: 'bool' },
]

/** `add` (kubo-rpc.md §2.1); CLI-side options are accepted and ignored. */
export const ADD_OPTIONS: OptionSpec[] = [
  { name: 'pin', type: 'bool', default: true }, { name: 'pin-name', type: 'string' }, { name: 'only-hash', aliases: ['n'], type: 'bool' },
  { name: 'wrap-with-directory', aliases: ['w'], type: 'bool' }, { name: 'progress', aliases: ['p'], type: 'bool' },
  { name: 'cid-version', type: 'int' }, { name: 'raw-leaves', type: 'bool' }, { name: 'chunker', aliases: ['s'], type: 'string' },
  { name: 'trickle', aliases: ['t'], type: 'bool' }, { name: 'quiet', aliases: ['q'], type: 'bool' }, { name: 'quieter', aliases: ['Q'], type: 'bool' },
  { name: 'silent', type: 'bool' }, { name: 'hash', type: 'string' }, { name: 'inline', type: 'bool' }, { name: 'inline-limit', type: 'int' },
  { name: 'recursive', aliases: ['r'], type: 'bool' }, { name: 'hidden', aliases: ['H'], type: 'bool' }, { name: 'empty-dirs', aliases: ['E'], type: 'bool' },
]

/** `pin/add` */
export const PIN_ADD_OPTIONS: OptionSpec[] = [
  { name: 'recursive', aliases: ['r'], type: 'bool', default: true }, { name: 'name', aliases: ['n'], type: 'string' }, { name: 'progress', type: 'bool' },
]

/** `pin/ls` */
export const PIN_LS_OPTIONS: OptionSpec[] = [
  { name: 'type', aliases: ['t'], type: 'string', default: 'all' }, { name: 'quiet', aliases: ['q'], type: 'bool' },
  { name: 'stream', aliases: ['s'], type: 'bool' }, { name: 'names', type: 'bool' }, { name: 'name', aliases: ['n'], type: 'string' },
]
