/**
 * The `attempts` repository on PostgreSQL: failure counters behind the code-entry and sign-in
 * limiters, counted across every instance on the database.
 */
import type { AttemptCounter, AttemptRepository } from '../port/index.js';
import { type Db, changes, row } from './database.js';

interface CounterRow {
  failures: number;
  last_failure_at: number;
}

const BY_KEY = { name: 'attempts.byKey', text: 'SELECT failures, last_failure_at FROM attempt_counters WHERE key = $1' };
// One statement, so concurrent failures on the same key, from any instance, never lose a
// count: a conflicting insert waits for the row's lock and then updates the committed count.
const FAIL = {
  name: 'attempts.fail',
  text: `INSERT INTO attempt_counters (key, failures, last_failure_at)
    VALUES ($1, 1, $2)
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN attempt_counters.last_failure_at < $3 THEN 1 ELSE attempt_counters.failures + 1 END,
      last_failure_at = EXCLUDED.last_failure_at
    RETURNING failures, last_failure_at`,
};
const PURGE = { name: 'attempts.purge', text: 'DELETE FROM attempt_counters WHERE last_failure_at < $1' };

const toCounter = (row: CounterRow): AttemptCounter => ({ failures: row.failures, lastFailureAt: row.last_failure_at });

export function createAttemptRepository(db: Db): AttemptRepository {
  return {
    async get(key) {
      const r = await row<CounterRow>(db, BY_KEY, [key]);
      return r && toCounter(r);
    },
    async recordFailure(key, now, forgetBefore) {
      return toCounter((await row<CounterRow>(db, FAIL, [key, now, forgetBefore]))!);
    },
    async purgeOlderThan(before) {
      return changes(db, PURGE, [before]);
    },
  };
}
