/**
 * Issue 14 acceptance: `DATABASE_URL=… kalm serve` against an empty database, two processes
 * started at the same moment. Both come up, the schema is migrated once (under the advisory
 * lock: the second waits and finds it done), and `kalm migrate` then says it is up to date.
 */
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PrivatePostgres } from '../helpers/postgres.js';
import { deviceAuthorization, kalmOn, openAdmin, startKalmServe, type KalmServe } from '../helpers/cluster.js';


// Generous: these tests start clusters, processes and brokers, on machines that may be busy.
const TIMEOUT = 120_000;
// The newest migration of the PostgreSQL engine (numbered as SQLite's).
const LATEST = readdirSync(new URL('../../server/src/store/postgres/migrations/', import.meta.url)).filter((f) => /^\d+_.+\.sql$/.test(f)).length;
let cluster: PrivatePostgres;
const started: KalmServe[] = [];

beforeAll(async () => {
  cluster = await startPostgres();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((k) => k.stop()));
});
afterAll(() => cluster?.dispose());

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

describe('two kalm serve processes on an empty database', () => {
  it('both come up, the schema is migrated once to the newest version, and kalm migrate finds it up to date', { timeout: TIMEOUT }, async () => {
    const db = await cluster.createDatabase();
    expect(await query(db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
    const both = await Promise.allSettled([startKalmServe(db), startKalmServe(db)]);
    for (const s of both) if (s.status === 'fulfilled') started.push(s.value);
    expect(both.map((s) => (s.status === 'rejected' ? String(s.reason) : 'up'))).toEqual(['up', 'up']);

    expect(await query<{ version: number }>(db, 'SELECT version FROM kalm_schema')).toEqual([{ version: LATEST }]);
    // Each instance made sure the keys exist at start: one active key per algorithm remains.
    const admin = await openAdmin(db);
    try {
      const keys = await admin.core.store.keys.list();
      expect(keys.filter((k) => k.retiredAt === null).map((k) => k.alg).sort()).toEqual(['ECDH-ES+A256KW', 'ES256', 'RS256']);
      console.log(`keys after two instances started at once on an empty database: ${keys.length} (${keys.filter((k) => k.retiredAt !== null).length} retired)`);
      // Both serve the device flow on the migrated schema.
      const clientId = await admin.createDeviceClient();
      for (const k of started) expect((await deviceAuthorization(k.url, clientId)).user_code).toMatch(/^[A-Z]{4}-[A-Z]{5}$/);
    } finally {
      await admin.close();
    }

    const { stdout } = await kalmOn(db, 'migrate');
    expect(stdout.trim()).toBe(`postgresql database is up to date (version ${LATEST})`);
  });

  it('kalm migrate on an empty database migrates it from 0 to the newest version, and a second run changes nothing', { timeout: TIMEOUT }, async () => {
    const db = await cluster.createDatabase();
    expect((await kalmOn(db, 'migrate')).stdout.trim()).toBe(`postgresql database migrated from version 0 to ${LATEST}`);
    expect((await kalmOn(db, 'migrate')).stdout.trim()).toBe(`postgresql database is up to date (version ${LATEST})`);
    const server = await startKalmServe(db);
    started.push(server);
    expect(await query<{ version: number }>(db, 'SELECT version FROM kalm_schema')).toEqual([{ version: LATEST }]);
  });
});
