import type Database from 'better-sqlite3';

/**
 * The writes of one event-loop turn, committed together.
 *
 * Why: a commit writes every page it touched into the WAL, and the checkpoint writes them
 * again into the database file. A device authorization touches the device code table, its
 * three indexes and the audit trail's table and indexes: 43 KiB written to disk a request,
 * measured, so under load the disk, not the CPU, set the pace (a group-commit fsync took
 * 9–15 ms). Writes of the same turn mostly touch the same table and index pages; committed
 * together, each of those pages is written once.
 *
 * How: `run(write)` queues `write`; at the end of the turn (setImmediate) the queue runs in
 * one IMMEDIATE transaction, each write in a savepoint of its own, so a write that throws
 * rolls back alone and its caller gets its error, while the others commit. A write's own
 * `db.transaction` nests inside its savepoint. Nothing of a turn is visible before its
 * commit; the transaction never spans an `await`, so nothing else runs inside it. If the
 * commit fails, or SQLite rolls the whole transaction back (a full disk, an I/O error),
 * every write of the turn is rejected: none of them took effect.
 *
 * Durability is the caller's: `run` resolves after the commit, and the store's group commit
 * (durability.ts) then fsyncs the WAL before the write is acknowledged.
 */
export interface TurnBatch {
  /** Run `write` at the end of this turn, with the turn's other writes in one commit. */
  run<T>(write: () => T): Promise<T>;
  /** Run whatever is queued now (before the connection closes). */
  drain(): void;
}

interface QueuedWrite {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

// Taken at load, so that a test which fakes timers cannot stop the store's commits.
const endOfTurn = setImmediate;

export function createTurnBatch(db: Database.Database): TurnBatch {
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const savepoint = db.prepare('SAVEPOINT turn_write');
  const release = db.prepare('RELEASE turn_write');
  const rollbackTo = db.prepare('ROLLBACK TO turn_write');
  let queue: QueuedWrite[] = [];

  /** Each write in its savepoint: its value, or its error with its changes undone. */
  function runEach(writes: QueuedWrite[]): { ok: boolean; value?: unknown; error?: unknown }[] {
    const outcomes: { ok: boolean; value?: unknown; error?: unknown }[] = [];
    for (const { write } of writes) {
      savepoint.run();
      try {
        outcomes.push({ ok: true, value: write() });
        release.run();
      } catch (error) {
        outcomes.push({ ok: false, error });
        if (!db.inTransaction) throw error; // SQLite rolled the whole turn back
        rollbackTo.run();
        release.run();
      }
    }
    return outcomes;
  }

  function commitTurn(): void {
    const writes = queue;
    queue = [];
    if (writes.length === 0) return;
    let outcomes;
    try {
      begin.run();
      outcomes = runEach(writes);
      commit.run();
    } catch (err) {
      if (db.inTransaction) rollback.run();
      for (const w of writes) w.reject(err);
      return;
    }
    writes.forEach((w, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) w.resolve(outcome.value);
      else w.reject(outcome.error);
    });
  }

  return {
    run<T>(write: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        if (queue.length === 0) endOfTurn(commitTurn);
        queue.push({ write, resolve: resolve as (value: unknown) => void, reject });
      });
    },
    drain: commitTurn,
  };
}
