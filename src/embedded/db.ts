/**
 * @module embedded/db
 * The embedded node's SQLite file (`<repo>/pins.sqlite`, WAL). It holds the pin set and
 * an index of the blocks on disk (multihash → size), so that `has`, repo/stat and GC do
 * not have to scan the block directory. A `clean` flag records an orderly close; after a
 * crash the block index is rebuilt from the files (see {@link BlockStore.open}).
 */
import Database from 'better-sqlite3'

export type Db = Database.Database

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  k TEXT PRIMARY KEY,
  v TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
  mh BLOB PRIMARY KEY,
  size INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pins (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  cid TEXT NOT NULL UNIQUE,
  mode TEXT NOT NULL CHECK (mode IN ('recursive', 'direct')),
  name TEXT NOT NULL DEFAULT ''
);
`

export function openDb (file: string): Db {
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(SCHEMA)
  return db
}

export function getMeta (db: Db, key: string): string | undefined {
  const row = db.prepare('SELECT v FROM meta WHERE k = ?').get(key) as { v: string } | undefined
  return row?.v
}

export function setMeta (db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v').run(key, value)
}
