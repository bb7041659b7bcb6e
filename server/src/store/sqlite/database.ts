/** The SQLite connection: where the database file lives, its pragmas, and migrations run on open. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrate } from './migrate.js';

export const DATABASE_FILE = 'kalm.sqlite';

/**
 * Frames the WAL may hold before the commit that passes them checkpoints it (SQLite's default
 * is 1,000, about 4 MiB). A checkpoint copies the newest version of each page the WAL holds into
 * the database file and fsyncs both files, on the event loop; the index pages a device code or a
 * refresh token dirties (hashes and user codes, random keys) are written again and again between
 * two checkpoints, so ten times the frames is far less than ten times the copying: 11,600 device
 * authorizations/s against 10,300–10,500 at 1,000 (README, Performance, item 8), for a WAL of up
 * to about 40 MiB under that load. 5,000 and 20,000 measured no better.
 */
export const WAL_AUTOCHECKPOINT_FRAMES = 10_000;

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
  db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_FRAMES}`);
  migrate(db);
  return db;
}
