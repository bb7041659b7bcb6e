import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail, type AuditTrail } from '../../server/src/core/audit.js';
import { StoreUnavailableError } from '../../server/src/core/errors.js';
import { createAuditRepository } from '../../server/src/store/postgres/audit.js';
import { closeDatabase, openDatabase, type Db } from '../../server/src/store/postgres/database.js';
import { migrate } from '../../server/src/store/postgres/migrate.js';
import { fakeClock } from '../helpers/clock.js';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';

// A database that cannot be reached must not cost the trail its events: the trail keeps them
// and writes them once the database is back (here a real PostgreSQL, stopped and started again);
// an event the database refuses for good is reported lost at once instead of blocking the others.

let cluster: PrivatePostgres;
let db: Db;
const failures: Array<{ err: unknown; lost: number }> = [];
let failureSeen: () => void = () => {};

function trail(): AuditTrail {
  return createAuditTrail({
    audit: createAuditRepository(db),
    clock: fakeClock(),
    retentionDays: () => 90,
    onError: (err, lost) => {
      failures.push({ err, lost });
      failureSeen();
    },
  });
}

/** Resolves once `count` failures in all have been reported. */
function failuresReported(count: number): Promise<void> {
  return new Promise((resolve) => {
    failureSeen = () => failures.length >= count && resolve();
    failureSeen();
  });
}

beforeAll(async () => {
  cluster = await startPostgres();
  db = openDatabase({ url: await cluster.createDatabase() });
  await migrate(db.pool);
});
afterAll(async () => {
  await closeDatabase(db);
  await cluster.dispose();
});

describe('audit trail with an unreachable database', { timeout: 60_000 }, () => {
  it('keeps the events while the database is down and writes them when it is back', async () => {
    const audit = trail();
    await cluster.stop();
    for (const n of [1, 2, 3]) audit.record({ type: 'keys.rotated', details: { n } });
    await failuresReported(3);
    expect(failures.every((f) => f.err instanceof StoreUnavailableError && f.lost === 0)).toBe(true);
    await cluster.start();
    await audit.flush();
    const written = await audit.recent({ type: 'keys.rotated' });
    expect(written.map((e) => e.details.n).sort()).toEqual([1, 2, 3]);
    expect(failures.filter((f) => f.lost > 0)).toEqual([]);
  });

  it('reports an event the database refuses for good as lost, and still writes the others', async () => {
    failures.length = 0;
    const audit = trail();
    audit.record({ type: 'client.created', clientId: 'kept' });
    // Not an actor the table accepts (its CHECK): refused whatever the retry.
    audit.record({ type: 'client.created', clientId: 'refused', actor: { type: 'robot' } as never });
    await audit.flush();
    expect(failures.map((f) => f.lost)).toEqual([1]);
    expect((await audit.recent({ type: 'client.created' })).map((e) => e.clientId)).toEqual(['kept']);
  });
});
