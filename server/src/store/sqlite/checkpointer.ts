import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * WAL checkpoints off the event loop.
 *
 * Why: SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000
 * frames, on the connection that committed: it copies those pages into the database file and
 * fsyncs the WAL and the database file, and the event loop waits for all of it. Under a stream
 * of device authorizations that was about 7 % of the server's CPU and a stall of a few
 * milliseconds every couple of dozen commits, with every request waiting behind it.
 *
 * How: once the store has made `CHECKPOINT_EVERY_WRITES` writes, a worker thread opens its own
 * connection (checkpoint-worker.js) and, each time that many more writes were made, runs a
 * PASSIVE checkpoint there, on the other core. The server's connection keeps an automatic
 * checkpoint only as a backstop, at ten times SQLite's threshold, for a WAL the thread could not
 * keep up with. A store that never writes that much never starts the thread and checkpoints as
 * SQLite does by default, and so does one whose thread stopped: its automatic checkpoint goes
 * back to 1,000 frames.
 *
 * Durability is unchanged: commits are made durable by the WAL's fsync (durability.ts), and the
 * checkpoint, like SQLite's own, fsyncs the WAL before it copies anything and the database file
 * before the WAL may be written over.
 */
export interface Checkpointer {
  /** A write was committed: every `CHECKPOINT_EVERY_WRITES` of them, a checkpoint on the thread. */
  wrote(): void;
  /** Stop the thread (its connection closed) and resolve once it has exited; the connection, if still open, checkpoints itself again. */
  close(): Promise<void>;
}

/** What one checkpoint on the thread found: frames in the WAL, and how many of them the database file now holds. */
export interface CheckpointResult {
  frames: number;
  copied: number;
}

export const CHECKPOINT_EVERY_WRITES = 256;
/** SQLite's default `wal_autocheckpoint`, in frames. */
const SQLITE_AUTOCHECKPOINT = 1000;
const BACKSTOP_AUTOCHECKPOINT = 10 * SQLITE_AUTOCHECKPOINT;

export interface CheckpointerOptions {
  /** A checkpoint every this many writes, the first one starting the thread. Default CHECKPOINT_EVERY_WRITES. */
  everyWrites?: number;
  /** Hears every checkpoint the thread made (the tests watch it). */
  onCheckpoint?: (result: CheckpointResult) => void;
}

export function createCheckpointer(db: Database.Database, databaseFile: string, options: CheckpointerOptions = {}): Checkpointer {
  if (databaseFile === ':memory:') return { wrote() {}, async close() {} };
  const everyWrites = options.everyWrites ?? CHECKPOINT_EVERY_WRITES;
  let writes = 0;
  let worker: Worker | undefined;
  let stopped = false; // the thread exited, or the store is closing: no thread again

  function start(): Worker {
    const thread = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData: { file: databaseFile } });
    thread.unref(); // a server that is otherwise done does not wait for it
    thread.on('message', (result: CheckpointResult) => options.onCheckpoint?.(result));
    // An error ends the thread; 'exit' follows and hands the checkpoints back to the connection.
    thread.on('error', () => {});
    thread.on('exit', () => {
      worker = undefined;
      stopped = true;
      if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT}`);
    });
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT}`);
    return thread;
  }

  return {
    wrote() {
      if (++writes < everyWrites || stopped) return;
      writes = 0;
      worker ??= start();
      worker.postMessage('checkpoint');
    },
    async close() {
      stopped = true;
      const thread = worker;
      if (thread === undefined) return;
      const exited = new Promise<void>((resolve) => thread.once('exit', () => resolve()));
      thread.postMessage('close');
      await exited;
    },
  };
}
