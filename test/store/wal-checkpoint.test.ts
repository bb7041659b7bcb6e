/**
 * When the SQLite store checkpoints its WAL (server/src/store/sqlite/database.ts): only once the
 * WAL holds WAL_AUTOCHECKPOINT_FRAMES frames, ten times SQLite's default, so that the pages every
 * write dirties are copied into the database file far less often.
 */
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseFile, openDatabase, WAL_AUTOCHECKPOINT_FRAMES } from '../../server/src/store/sqlite/database.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kalm-wal-'));
  dirs.push(dir);
  return dir;
}

/** The rows of `table` in the database file alone, without its WAL (undefined: not even the table). */
function rowsInFileAlone(dataDir: string, table: string): number | undefined {
  const copy = path.join(tempDir(), 'copy.sqlite');
  copyFileSync(databaseFile(dataDir), copy);
  const db = new Database(copy, { readonly: true });
  try {
    const exists = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").get(table);
    return exists ? (db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number) : undefined;
  } finally {
    db.close();
  }
}

/** Frames written to the WAL since it was created (its header is 32 bytes, each frame 24 and a page). */
function walFrames(dataDir: string, pageSize: number): number {
  return (statSync(`${databaseFile(dataDir)}-wal`).size - 32) / (24 + pageSize);
}

describe('WAL checkpoints', () => {
  it(`copies the WAL into the database file once it holds ${WAL_AUTOCHECKPOINT_FRAMES} frames, not at SQLite's 1,000`, () => {
    const dir = tempDir();
    const db = openDatabase(dir);
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.exec('CREATE TABLE filler (b BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO filler VALUES (?)');
    const blob = Buffer.alloc(64 * 1024, 7); // sixteen overflow pages and more, a commit each
    let rows = 0;
    while (walFrames(dir, pageSize) < 3 * 1000) {
      insert.run(blob);
      rows++;
    }
    expect(rowsInFileAlone(dir, 'filler')).toBeUndefined(); // all of it still only in the WAL

    while (walFrames(dir, pageSize) < WAL_AUTOCHECKPOINT_FRAMES) {
      insert.run(blob);
      rows++;
    }
    // The commit that took the WAL past the threshold checkpointed it, itself included.
    expect(rowsInFileAlone(dir, 'filler')).toBe(rows);
    db.close();
  });
});
