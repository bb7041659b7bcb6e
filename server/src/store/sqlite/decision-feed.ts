/** The `decisionFeed` repository on SQLite: decisions and revocations other connections committed. */
import type Database from 'better-sqlite3';
import type { DecisionFeedRepository } from '../port/index.js';

/**
 * What other connections to this database decided: device codes approved or denied, grants
 * revoked. `PRAGMA data_version` changes only when another connection commits, so a process
 * alone on its database never runs the two queries.
 */
export function createDecisionFeedRepository(db: Database.Database): DecisionFeedRepository {
  const dataVersion = db.prepare('PRAGMA data_version').pluck();
  let lastVersion = dataVersion.get() as number;
  const decided = db.prepare<[number], { id: number; status: string; at: number }>(
    'SELECT id, status, decided_at AS at FROM device_codes WHERE decided_at >= ? ORDER BY decided_at',
  );
  const revoked = db.prepare<[number], { id: string; at: number }>('SELECT id, revoked_at AS at FROM grants WHERE revoked_at >= ? ORDER BY revoked_at');
  const latest = db.prepare<[], { decided: number | null; revoked: number | null }>(
    'SELECT (SELECT max(decided_at) FROM device_codes) AS decided, (SELECT max(revoked_at) FROM grants) AS revoked',
  );

  return {
    async changedElsewhere() {
      const version = dataVersion.get() as number;
      if (version === lastVersion) return false;
      lastVersion = version;
      return true;
    },
    async decidedSince(since) {
      // A code decided and then redeemed was approved.
      return decided.all(since).map(({ id, status, at }) => ({ deviceCodeId: id, status: status === 'denied' ? 'denied' : 'approved', at }));
    },
    async revokedSince(since) {
      return revoked.all(since).map(({ id, at }) => ({ grantId: id, at }));
    },
    async latest() {
      const row = latest.get()!;
      return Math.max(row.decided ?? 0, row.revoked ?? 0);
    },
  };
}
