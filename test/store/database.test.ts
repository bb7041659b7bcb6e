// The PostgreSQL connection (store/postgres/database.ts): a database that cannot be reached is
// `StoreUnavailableError` (503 temporarily_unavailable), never a crash, and the pool recovers by
// itself once the database is back; any other failure passes through unchanged.
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../server/src/core/errors.js';
import { isUnavailable, mapError } from '../../server/src/store/postgres/database.js';
import { createPostgresStore } from '../../server/src/store/postgres/index.js';
import type { StoreEngine } from '../../server/src/store/port/index.js';
import { freePort } from '../helpers/server.js';
import { aClient, forEachEngine, seedGrant, T0 } from './engines.js';

const withCode = (message: string, code?: string) => Object.assign(new Error(message), code === undefined ? {} : { code });

describe('connection failures', () => {
  it.each([
    ['ECONNREFUSED', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['ECONNRESET', withCode('read ECONNRESET', 'ECONNRESET')],
    ['EPIPE', withCode('write EPIPE', 'EPIPE')],
    ['ETIMEDOUT', withCode('connect ETIMEDOUT', 'ETIMEDOUT')],
    ['a lost connection', withCode('Connection terminated unexpectedly')],
    ['a pool connect timeout', withCode('timeout exceeded when trying to connect')],
    ['SQLSTATE 08006 connection_failure', withCode('connection failure', '08006')],
    ['SQLSTATE 57P01 admin_shutdown', withCode('terminating connection due to administrator command', '57P01')],
    ['SQLSTATE 57P03 cannot_connect_now', withCode('the database system is starting up', '57P03')],
    ['every address refused', new AggregateError([withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED')], '')],
  ])('%s is StoreUnavailableError', (_, err) => {
    expect(isUnavailable(err)).toBe(true);
    const mapped = mapError(err);
    expect(mapped).toBeInstanceOf(StoreUnavailableError);
    expect((mapped as StoreUnavailableError).error).toBe('temporarily_unavailable');
  });

  it.each([
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a syntax error', withCode('syntax error at or near "SELEC"', '42601')],
    ['a plain bug', new TypeError('x is not a function')],
  ])('%s passes unchanged', (_, err) => {
    expect(isUnavailable(err)).toBe(false);
    expect(mapError(err)).toBe(err);
  });
});

/** Call `fn` until it stops failing as unavailable; how many calls failed (a pool drops one dead connection per failure). */
async function untilAvailable(fn: () => Promise<unknown>, limit: number): Promise<number> {
  for (let failures = 0; failures < limit; failures++) {
    try {
      await fn();
      return failures;
    } catch (err) {
      expect(err).toBeInstanceOf(StoreUnavailableError);
    }
  }
  throw new Error(`still unavailable after ${limit} calls`);
}

forEachEngine(
  (engine) => {
    describe('a database that goes away', () => {
      it('refuses to open a store on a server nobody listens at: StoreUnavailableError', async () => {
        const url = `postgres://kalm@127.0.0.1:${await freePort()}/kalm`;
        await expect(createPostgresStore({ url })).rejects.toBeInstanceOf(StoreUnavailableError);
      });

      it('fails reads, writes and transactions as unavailable while stopped, then recovers by itself', async () => {
        const errors: unknown[] = [];
        const location = await engine.location();
        const store: StoreEngine = await engine.openAt(location, { onError: (err) => errors.push(err) });
        const { grant, client } = await seedGrant(store);
        // Several connections in the pool, all cut by the stop.
        await Promise.all([store.clients.get(client.id), store.grants.get(grant.id), store.users.list()]);

        await engine.server!.stop();
        try {
          await expect(store.clients.get(client.id)).rejects.toBeInstanceOf(StoreUnavailableError);
          await expect(store.clients.create(aClient())).rejects.toBeInstanceOf(StoreUnavailableError);
          // A transaction (BEGIN on a pooled client, ROLLBACK impossible) fails the same way.
          await expect(store.grants.revoke(grant.id, T0 + 1)).rejects.toBeInstanceOf(StoreUnavailableError);
          await expect(store.deviceCodes.getById(1)).rejects.toBeInstanceOf(StoreUnavailableError);
        } finally {
          await engine.server!.start();
        }

        // No reopening: the pool throws dead connections away and opens new ones.
        expect(await untilAvailable(() => store.clients.get(client.id), 6)).toBeLessThanOrEqual(4);
        expect((await store.clients.get(client.id))!.id).toBe(client.id);
        expect(await store.grants.revoke(grant.id, T0 + 2)).toBe(true);
        const created = aClient();
        await store.clients.create(created);
        expect(await store.clients.get(created.id)).toEqual(created);
        // Whatever the idle connections reported went to onError, as errors, not as crashes.
        for (const err of errors) expect(err).toBeInstanceOf(Error);
      });

      it('passes a statement’s own failure through unchanged', async () => {
        const store = await engine.open();
        const client = aClient();
        await store.clients.create(client);
        const err = await store.clients.create(client).catch((e: unknown) => e);
        expect(err).not.toBeInstanceOf(StoreUnavailableError);
        expect((err as { code?: string }).code).toBe('23505');
      });
    });
  },
  ['postgres'],
);
