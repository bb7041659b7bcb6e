/**
 * WAL checkpoints on a thread of their own (server/src/store/sqlite/checkpointer.ts): the
 * database file gets what was committed without the server's connection copying it, the thread
 * starts only once the store has written enough, and when it is gone the connection checkpoints
 * itself again, as SQLite does by default.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createCheckpointer, type CheckpointResult } from '../../server/src/store/sqlite/checkpointer.js';
import { databaseFile, openDatabase } from '../../server/src/store/sqlite/database.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import { aDeviceCode, seed, T0 } from './engines.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kalm-checkpoints-'));
  dirs.push(dir);
  return dir;
}

/** The rows of `table` in the database file alone, as it is on disk now, without its WAL (0: not even the table). */
function rowsInFileAlone(dataDir: string, table: string): number {
  const copy = path.join(tempDir(), 'copy.sqlite');
  copyFileSync(databaseFile(dataDir), copy);
  const db = new Database(copy, { readonly: true });
  try {
    const exists = db.prepare('SELECT 1 FROM sqlite_schema WHERE type = ? AND name = ?').get('table', table);
    return exists ? (db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number) : 0;
  } finally {
    db.close();
  }
}

const autocheckpoint = (db: Database.Database) => db.pragma('wal_autocheckpoint', { simple: true });

describe('checkpoints off the event loop', () => {
  it('copies what was committed into the database file on its own connection, every so many writes', async () => {
    const dir = tempDir();
    const checkpoints: CheckpointResult[] = [];
    let copiedAll: () => void;
    const done = new Promise<void>((resolve) => (copiedAll = resolve));
    const store = createSqliteStore(dir, {
      checkpoints: {
        everyWrites: 4,
        onCheckpoint(result) {
          checkpoints.push(result);
          if (result.copied === result.frames) copiedAll();
        },
      },
    });
    const { client } = await seed(store); // a client and a person: two writes
    await store.deviceCodes.insert(aDeviceCode(client.id), T0);
    expect(checkpoints).toEqual([]);
    expect(autocheckpoint(store.db)).toBe(1000); // SQLite's own, until the thread starts
    expect(rowsInFileAlone(dir, 'device_codes')).toBe(0); // still only in the WAL
    await store.deviceCodes.insert(aDeviceCode(client.id), T0); // the fourth write

    await done;
    expect(checkpoints[0]!.frames).toBeGreaterThan(0);
    // The schema and four writes: below the 1,000 frames at which the connection checkpoints itself.
    expect(checkpoints[0]!.frames).toBeLessThan(1000);
    expect(autocheckpoint(store.db)).toBe(10_000);
    expect(rowsInFileAlone(dir, 'device_codes')).toBe(2);
    expect(rowsInFileAlone(dir, 'clients')).toBe(1);
    await store.close();
  });

  it('hands the checkpoints back to the connection once its thread is gone', async () => {
    const dir = tempDir();
    const db = openDatabase(dir);
    const checkpointer = createCheckpointer(db, databaseFile(dir), { everyWrites: 1 });
    checkpointer.wrote();
    expect(autocheckpoint(db)).toBe(10_000);
    await checkpointer.close();
    expect(autocheckpoint(db)).toBe(1000);
    checkpointer.wrote(); // no thread again
    expect(autocheckpoint(db)).toBe(1000);
    db.close();
  });

  it('closes with the store: the thread has exited and, the last connection gone, no WAL is left', async () => {
    const dir = tempDir();
    let checkpointed: () => void;
    const threadRunning = new Promise<void>((resolve) => (checkpointed = resolve));
    const store = createSqliteStore(dir, { checkpoints: { everyWrites: 2, onCheckpoint: () => checkpointed() } });
    const { client } = await seed(store);
    await threadRunning; // its connection is open
    for (let i = 0; i < 5; i++) await store.deviceCodes.insert(aDeviceCode(client.id), T0);
    await store.close();
    expect(existsSync(`${databaseFile(dir)}-wal`)).toBe(false);
    expect(rowsInFileAlone(dir, 'device_codes')).toBe(5);
  });
});
