import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditTrail, type AuditTrail } from '../../server/src/core/audit.js';
import { StoreUnavailableError } from '../../server/src/core/errors.js';
import { createAuditRepository } from '../../server/src/store/postgres/audit.js';
import { closeDatabase, openDatabase, type Db } from '../../server/src/store/postgres/database.js';
import { migrate } from '../../server/src/store/postgres/migrate.js';
import { fakeClock } from '../helpers/clock.js';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';

// An event of no write of its own (a sign-in) is appended before its caller answers, and a
// database that cannot be reached fails that caller (503 `temporarily_unavailable` for the
// request) instead of letting the action go unrecorded. A real PostgreSQL, stopped and started
// again. (Events of writes go in the write's own transaction: test/store/audit-on-write.test.ts.)

let cluster: PrivatePostgres;
let db: Db;

function trail(): AuditTrail {
  return createAuditTrail({ audit: createAuditRepository(db), clock: fakeClock(), retentionDays: () => 90 });
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
  it('has the event in the database once record() resolves', async () => {
    const audit = trail();
    await audit.record({ type: 'signin.failed', username: 'nobody', ip: '198.51.100.9' });
    expect(await audit.recent({ type: 'signin.failed' })).toEqual([expect.objectContaining({ type: 'signin.failed', ip: '198.51.100.9' })]);
  });

  it('fails record() while the database is down, and records again once it is back', async () => {
    const audit = trail();
    await cluster.stop();
    await expect(audit.record({ type: 'signin.succeeded', username: 'down' })).rejects.toBeInstanceOf(StoreUnavailableError);
    await cluster.start();
    await audit.record({ type: 'signin.succeeded', username: 'back' });
    expect((await audit.recent({ type: 'signin.succeeded' })).map((e) => e.username)).toEqual(['back']);
  });
});
