// Two cores on two connections to one SQLite file, as two server processes would have: what
// one decides, the other publishes on its own events when it checks (core/cross-process.ts).
// `check()` is called by hand here; the server calls it on a timer (test/push/cross-process
// runs that with two real processes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../server/src/config.js';
import { GRANT_TYPES } from '../../server/src/core/clients.js';
import type { DeviceEvent } from '../../server/src/core/events.js';
import { createCore, type Core } from '../../server/src/core/index.js';
import { createSqliteStore } from '../../server/src/store/sqlite/index.js';
import type { ClientRecord } from '../../server/src/store/port/index.js';
import { fakeClock } from '../helpers/clock.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'kalm-cross-'));
const stores: Array<ReturnType<typeof createSqliteStore>> = [];
let a: Core;
let b: Core;
let client: ClientRecord;
let userId: string;
const heardByB: DeviceEvent[] = [];

async function openCore(): Promise<Core> {
  const store = createSqliteStore(dataDir);
  stores.push(store);
  return createCore({ config: defaultConfig({ dataDir, demo: false }), store, clock: fakeClock() });
}

beforeAll(async () => {
  a = await openCore();
  ({ client } = await a.clients.create({ name: 'TV', type: 'public', grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken], scopes: ['valuate:read'] }));
  ({ id: userId } = await a.users.create({ username: 'ann', password: 'a long enough password' }));
  // A decision taken before b starts is history, not news.
  const old = await a.deviceFlow.authorize(client, 'valuate:read');
  await a.deviceFlow.approve(old.user_code, userId, ['valuate:read']);
  b = await openCore();
  b.events.subscribe((event) => heardByB.push(event));
});
afterAll(() => {
  for (const store of stores) store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('decisions of another process on the same database', () => {
  it('publishes nothing while no other process has written', async () => {
    expect(await b.crossProcess.check()).toBe(0);
    expect(heardByB).toEqual([]);
  });

  it('publishes an approval, a denial and a revocation taken by the other process, each once', async () => {
    const approved = await a.deviceFlow.authorize(client, 'valuate:read');
    const denied = await a.deviceFlow.authorize(client, 'valuate:read');
    const approvedId = (await a.deviceFlow.findPending(approved.user_code))!.id;
    const deniedId = (await a.deviceFlow.findPending(denied.user_code))!.id;
    await a.deviceFlow.approve(approved.user_code, userId, ['valuate:read']);
    await a.deviceFlow.deny(denied.user_code, userId);
    const tokens = await a.deviceFlow.poll(client, approved.device_code);
    const grantId = (await a.pairedDevices.list(userId))[0]!.grantId;
    await a.pairedDevices.revoke(userId, grantId);
    expect(tokens.refresh_token).toBeDefined();

    expect(await b.crossProcess.check()).toBe(3);
    expect(heardByB).toEqual([
      { type: 'approved', deviceCodeId: approvedId, remote: true },
      { type: 'denied', deviceCodeId: deniedId, remote: true },
      { type: 'revoked', grantId, remote: true },
    ]);
    // Another write elsewhere makes b read again; what it told is not told twice.
    await a.deviceFlow.authorize(client, 'valuate:read');
    expect(await b.crossProcess.check()).toBe(0);
    expect(heardByB).toHaveLength(3);
  });
});
