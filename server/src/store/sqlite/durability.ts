import { closeSync, fstatSync, fsync, fsyncSync, openSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';

/**
 * Group commit for SQLite in WAL mode.
 *
 * Why: with `synchronous = FULL` every commit fsyncs the WAL on the event loop (about 3 ms
 * here), so one write per request capped the server near 300 requests/s and every other
 * request waited behind the disk. Instead the connection commits with `synchronous = NORMAL`
 * (the commit only reaches the OS page cache, which survives a kill -9) and then, before a
 * write is acknowledged, the WAL file is fsynced off the event loop. Every write committed
 * while one fsync runs shares the next one, so under load one fsync makes hundreds of commits
 * durable, and an acknowledged approval, token or revocation still survives a power cut, as
 * it did with FULL.
 *
 * fsync(2) flushes the file's dirty pages whichever descriptor wrote them, so a descriptor
 * of our own on the `-wal` file is enough. SQLite restarts the WAL in place after a
 * checkpoint (same inode); if the file was replaced, the descriptor is opened again.
 */
export interface Durability {
  /** Resolves once every commit made before the call is on disk. */
  flush(): Promise<void>;
  /**
   * Fsync every commit made so far, here and now, then let go of the file: a flush still under
   * way resolves (what it was to make durable already is), and so does every flush after.
   */
  close(): void;
}

export function createDurability(databaseFile: string): Durability {
  if (databaseFile === ':memory:') return { flush: async () => {}, close() {} };
  const walFile = `${databaseFile}-wal`;
  let fd: number | undefined;
  let running: Promise<void> | undefined;
  let next: Promise<void> | undefined;
  let closed = false;

  function descriptor(): number {
    const ino = statSync(walFile).ino;
    if (fd !== undefined && fstatSync(fd).ino !== ino) {
      closeSync(fd);
      fd = undefined;
    }
    fd ??= openSync(walFile, 'r');
    return fd;
  }

  function syncNow(): Promise<void> {
    if (closed) return Promise.resolve(); // the close fsynced every commit
    const promise = new Promise<void>((resolve, reject) => {
      fsync(descriptor(), (err) => (err && !closed ? reject(err) : resolve()));
    });
    running = promise.finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    flush() {
      if (!running) return syncNow();
      // An fsync is under way but may have started before this caller's commit: wait for
      // the one after it, which every caller arriving meanwhile shares.
      next ??= running.then(
        () => {
          next = undefined;
          return syncNow();
        },
        () => {
          next = undefined;
          return syncNow();
        },
      );
      return next;
    },
    close() {
      if (closed) return;
      try {
        fsyncSync(descriptor());
      } catch (err) {
        // No WAL file: nothing was ever committed through it.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      closed = true;
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/**
 * Wrap every method of a repository so that a call which changed rows resolves only after
 * those changes are durable. Reads pass straight through. `total_changes()` counts rows this
 * connection inserted, updated or deleted, so no repository has to say which methods write.
 */
export function durable<T extends object>(db: Database.Database, durability: Durability, repository: T): T {
  const totalChanges = db.prepare('SELECT total_changes() AS n').pluck();
  const wrapped = {} as Record<string, unknown>;
  for (const [name, value] of Object.entries(repository)) {
    if (typeof value !== 'function') {
      wrapped[name] = value;
      continue;
    }
    wrapped[name] = async (...args: unknown[]) => {
      const before = totalChanges.get() as number;
      const result = await (value as (...a: unknown[]) => unknown).apply(repository, args);
      // Closed meanwhile (a write the close drained from the turn): the close fsynced it.
      if (!db.open) return result;
      if ((totalChanges.get() as number) !== before) await durability.flush();
      return result;
    };
  }
  return wrapped as T;
}
