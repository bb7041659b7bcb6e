/**
 * SQLite's turn batch (server/src/store/sqlite/turn-batch.ts): the writes of one event-loop turn
 * commit in one transaction, each in its own savepoint. Seen from a second connection on the same
 * file, as another process (the CLI) would see them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTurnBatch, type TurnBatch } from '../../server/src/store/sqlite/turn-batch.js';

let dir: string;
let db: Database.Database;
let other: Database.Database;
let turn: TurnBatch;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kalm-turn-'));
  const file = path.join(dir, 'turn.sqlite');
  db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
  other = new Database(file);
  other.pragma('busy_timeout = 0');
  turn = createTurnBatch(db);
});

afterEach(() => {
  other.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const insert = (v: string) => () => db.prepare('INSERT INTO t (v) VALUES (?)').run(v).lastInsertRowid;
const seenByOther = (): string[] => other.prepare('SELECT v FROM t ORDER BY id').pluck().all() as string[];

describe('turn batch', () => {
  it('commits the writes of one turn together, at the end of the turn, in the order they came', async () => {
    const writes = [turn.run(insert('a')), turn.run(insert('b')), turn.run(insert('c'))];
    expect(seenByOther()).toEqual([]); // nothing runs before the turn ends
    expect(await Promise.all(writes)).toEqual([1, 2, 3]);
    expect(seenByOther()).toEqual(['a', 'b', 'c']);
    expect(db.inTransaction).toBe(false);
  });

  it('rolls back a write that throws alone: its caller gets the error, the others commit', async () => {
    const twoRows = () => {
      insert('x')();
      insert('a')(); // UNIQUE: 'a' is taken earlier in this turn
    };
    const outcomes = await Promise.allSettled([turn.run(insert('a')), turn.run(twoRows), turn.run(insert('b'))]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE constraint failed/);
    expect(seenByOther()).toEqual(['a', 'b']); // 'x' went with the write that failed
  });

  it('rejects every write of the turn, and writes none, when the turn cannot commit; the next turn works', async () => {
    other.exec('BEGIN IMMEDIATE'); // another process holds the write lock
    const blocked = await Promise.allSettled([turn.run(insert('a')), turn.run(insert('b'))]);
    expect(blocked.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(String((blocked[0] as PromiseRejectedResult).reason)).toMatch(/database is locked/);
    other.exec('ROLLBACK');
    expect(seenByOther()).toEqual([]);
    expect(await turn.run(insert('c'))).toBe(1);
    expect(seenByOther()).toEqual(['c']);
  });

  it('nests a write that is itself a transaction inside its savepoint', async () => {
    const both = db.transaction(() => {
      insert('p')();
      insert('q')();
    });
    const failing = db.transaction(() => {
      insert('r')();
      throw new Error('changed its mind');
    });
    const outcomes = await Promise.allSettled([turn.run(both), turn.run(failing)]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect(seenByOther()).toEqual(['p', 'q']);
  });

  it('runs what is queued when drained, before the connection closes', async () => {
    const pending = turn.run(insert('late'));
    turn.drain();
    expect(seenByOther()).toEqual(['late']);
    await expect(pending).resolves.toBe(1);
  });
});
