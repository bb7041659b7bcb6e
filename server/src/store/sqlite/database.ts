/** The SQLite connection: where the database file lives, its pragmas, and migrations run on open. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.js';

export const DATABASE_FILE = 'kalm.sqlite';

/** The database file of `dataDir`, or `:memory:`. */
export function databaseFile(dataDir: string): string {
  return dataDir === ':memory:' ? dataDir : path.join(dataDir, DATABASE_FILE);
}

/** Open (creating if needed) the database in `dataDir`, or in memory for `:memory:`. */
export function openDatabase(dataDir: string): Database.Database {
  if (dataDir !== ':memory:') mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(databaseFile(dataDir));
  db.pragma('journal_mode = WAL');
  // NORMAL: a commit reaches the OS (it survives a kill -9) without an fsync on the event
  // loop; the store's group commit (durability.ts) then fsyncs the WAL before any write is
  // acknowledged, so acknowledged writes also survive a power cut, as with FULL.
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}
