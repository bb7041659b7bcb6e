import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createClientRepository } from '../../server/src/store/sqlite/clients.js';
import { createDurability, durable, type Durability } from '../../server/src/store/sqlite/durability.js';
import { databaseFile, openDatabase } from '../../server/src/store/sqlite/database.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import { aDeviceCode, seed, T0 } from '../store/engines.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open() {
  const dir = mkdtempSync(path.join(tmpdir(), 'kalm-durability-'));
  dirs.push(dir);
  const db = openDatabase(dir);
  const real = createDurability(databaseFile(dir));
  let flushes = 0;
  const counting: Durability = {
    flush: () => {
      flushes++;
      return real.flush();
    },
    close: () => real.close(),
  };
  return { db, real, counting, flushes: () => flushes };
}

const client = (id: string) => ({
  id,
  name: 'app',
  type: 'public' as const,
  secretHash: null,
  grantTypes: ['refresh_token'],
  scopes: ['valuate:read'],
  redirectUris: [],
  deviceCodeTtl: null,
  devicePollInterval: null,
  accessTokenAlg: null,
  ownerUserId: null,
  createdAt: 0,
});

describe('group commit', () => {
  it('resolves a write only after an fsync of the WAL, and lets reads through without one', async () => {
    const { db, counting, flushes } = open();
    const clients = durable(db, counting, createClientRepository(db));
    expect(await clients.get('tv')).toBeUndefined();
    expect(flushes()).toBe(0);
    await clients.create(client('tv'));
    expect(flushes()).toBe(1);
    expect((await clients.get('tv'))?.id).toBe('tv');
    expect(flushes()).toBe(1);
    db.close();
  });

  it('makes writes that arrive during one fsync share the next one', async () => {
    const { db, real } = open();
    db.prepare('CREATE TABLE t (n INTEGER)').run();
    const waits = Array.from({ length: 50 }, (_, n) => {
      db.prepare('INSERT INTO t VALUES (?)').run(n);
      return real.flush();
    });
    // The first caller starts an fsync; the other 49 committed while it ran and share one more.
    expect(new Set(waits).size).toBe(2);
    await Promise.all(waits);
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(50);
    real.close();
    db.close();
  });
});

describe('closing the store', () => {
  it('commits, makes durable and acknowledges the writes still queued in the turn, and the flushes under way', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kalm-durability-'));
    dirs.push(dir);
    const store = createSqliteStore(dir);
    const { client } = await seed(store);
    const first = await store.deviceCodes.insert(aDeviceCode(client.id), T0);
    // One write whose fsync is under way, one still queued for the end of the turn: then close.
    const flushing = store.deviceCodes.decide(first!.id, { status: 'denied', userId: null }, T0 + 1);
    await new Promise((resolve) => setImmediate(resolve));
    const queued = store.deviceCodes.insert(aDeviceCode(client.id), T0);
    store.close();
    await expect(flushing).resolves.toBe(true);
    const second = await queued;
    expect(second).toMatchObject({ clientId: client.id, status: 'pending' });

    const reopened = createSqliteStore(dir);
    expect((await reopened.deviceCodes.getById(first!.id))?.status).toBe('denied');
    expect(await reopened.deviceCodes.getById(second!.id)).toMatchObject({ clientId: client.id });
    reopened.close();
  });
});
