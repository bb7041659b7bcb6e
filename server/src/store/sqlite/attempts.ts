/** The `attempts` repository on SQLite: failure counters behind the code-entry and sign-in limiters. */
import type Database from 'better-sqlite3';
import type { AttemptCounter, AttemptRepository } from '../port/index.js';

interface CounterRow {
  failures: number;
  last_failure_at: number;
}

export function createAttemptRepository(db: Database.Database): AttemptRepository {
  const byKey = db.prepare<[string], CounterRow>('SELECT failures, last_failure_at FROM attempt_counters WHERE key = ?');
  // One statement, so concurrent failures on the same key never lose a count.
  const fail = db.prepare<{ key: string; now: number; forgetBefore: number }, CounterRow>(`INSERT INTO attempt_counters (key, failures, last_failure_at)
    VALUES (@key, 1, @now)
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN last_failure_at < @forgetBefore THEN 1 ELSE failures + 1 END,
      last_failure_at = @now
    RETURNING failures, last_failure_at`);
  const purge = db.prepare('DELETE FROM attempt_counters WHERE last_failure_at < ?');
  const toCounter = (row: CounterRow): AttemptCounter => ({ failures: row.failures, lastFailureAt: row.last_failure_at });
  return {
    async get(key) {
      const row = byKey.get(key);
      return row && toCounter(row);
    },
    async recordFailure(key, now, forgetBefore) {
      return toCounter(fail.get({ key, now, forgetBefore })!);
    },
    async purgeOlderThan(before) {
      return purge.run(before).changes;
    },
  };
}
