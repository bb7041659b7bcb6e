/**
 * SQLite's read caches (server/src/store/sqlite/read-cache.ts): exact per connection, with
 * another connection's commits seen through `PRAGMA data_version`, read once per job (once per
 * turn for the requests that wait on `fresh()`). Two connections on one file stand for the
 * server and the CLI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readCache, type ReadCache } from '../../server/src/store/sqlite/read-cache.js';

let dir: string;
let db: Database.Database;
let other: Database.Database;
let names: ReadCache<string>;
let colours: ReadCache<string>;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'kalm-read-cache-'));
  const file = path.join(dir, 'cache.sqlite');
  db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT NOT NULL)');
  other = new Database(file);
  names = readCache<string>(db, 'names', 3);
  colours = readCache<string>(db, 'colours', 3);
});

afterEach(() => {
  other.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What a repository does: the cached value, else the row (kept). */
function read(cache: ReadCache<string>, id: string): string | undefined {
  const cached = cache.get(id);
  if (cached !== undefined) return cached;
  const row = db.prepare<[string], string>('SELECT v FROM t WHERE id = ?').pluck().get(id);
  if (row !== undefined) cache.set(id, row);
  return row;
}

/** The end of this job: the next callback of the event loop. */
const nextJob = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('read cache', () => {
  it("serves what it read until another connection commits, then every cache of the connection reads again", async () => {
    db.prepare('INSERT INTO t VALUES (?, ?)').run('a', 'one');
    db.prepare('INSERT INTO t VALUES (?, ?)').run('b', 'red');
    expect(read(names, 'a')).toBe('one');
    expect(read(colours, 'b')).toBe('red');
    // This connection's own change is the repository's to drop; the cache still holds the old value.
    db.prepare("UPDATE t SET v = 'two' WHERE id = 'a'").run();
    await nextJob();
    expect(read(names, 'a')).toBe('one');

    other.prepare("UPDATE t SET v = 'blue' WHERE id = 'b'").run();
    await nextJob();
    expect(read(names, 'a')).toBe('two');
    expect(read(colours, 'b')).toBe('blue');
  });

  it('reads the version once a job: a commit made during the job is seen from the next job on', async () => {
    db.prepare('INSERT INTO t VALUES (?, ?)').run('a', 'one');
    await nextJob();
    expect(read(names, 'a')).toBe('one');
    other.prepare("UPDATE t SET v = 'two' WHERE id = 'a'").run();
    // The same job, its promise jobs included: concurrent with the commit, it goes by its first read.
    expect(read(names, 'a')).toBe('one');
    await Promise.resolve();
    expect(read(names, 'a')).toBe('one');
    await nextJob();
    expect(read(names, 'a')).toBe('two');
  });

  it("fresh(): a request's read waits for the turn's check phase, so it sees a commit made after the request asked", async () => {
    db.prepare('INSERT INTO t VALUES (?, ?)').run('a', 'one');
    expect(read(names, 'a')).toBe('one');
    await nextJob();
    const checking = names.fresh();
    expect(checking).toBeInstanceOf(Promise);
    other.prepare("UPDATE t SET v = 'two' WHERE id = 'a'").run();
    await checking;
    expect(read(names, 'a')).toBe('two');
  });

  it("fresh(): the waiters of one turn share one version read, and go by it until their promise jobs are done", async () => {
    db.prepare('INSERT INTO t VALUES (?, ?)').run('a', 'one');
    expect(read(names, 'a')).toBe('one');
    await nextJob();
    const first = names.fresh();
    const second = colours.fresh();
    expect(second).toBe(first);
    const seen: (string | undefined)[] = [];
    await Promise.all([
      first!.then(() => {
        other.prepare("UPDATE t SET v = 'two' WHERE id = 'a'").run();
        seen.push(read(names, 'a'));
      }),
      second!.then(() => {
        expect(names.fresh()).toBeUndefined();
        seen.push(read(names, 'a'));
      }),
    ]);
    // The commit came after the shared read: concurrent with both waiters, it is seen next job.
    expect(seen).toEqual(['one', 'one']);
    await nextJob();
    expect(names.fresh()).toBeInstanceOf(Promise);
    await names.fresh();
    expect(read(names, 'a')).toBe('two');
  });

  it("fresh(): a version read that fails (the connection closed) fails the waiters' lookups, not the process", async () => {
    await nextJob();
    const checking = names.fresh();
    db.close();
    await expect(checking).rejects.toThrow(/not open/);
  });

  it('keeps at most its bound, dropping the oldest first', () => {
    for (const id of ['a', 'b', 'c', 'd']) db.prepare('INSERT INTO t VALUES (?, ?)').run(id, id.toUpperCase());
    for (const id of ['a', 'b', 'c', 'd']) read(names, id);
    expect(names.size).toBe(3);
    expect(names.get('a')).toBeUndefined();
    expect(names.get('d')).toBe('D');
  });
});
