/**
 * The MQTT bridge's write-behind (server/src/mqtt/write-behind.ts) on each engine's store: a
 * status the broker acknowledged stays known until the store has it, and after, until the next
 * flush is stored, so the status sweep never tells a device a status twice, whichever way a
 * flush and its read of the store interleave.
 */
import { describe, expect, it } from 'vitest';
import { createWriteBehind } from '../../server/src/mqtt/write-behind.js';
import type { StoreEngine } from '../../server/src/store/port/index.js';
import { forEachEngine, seedDeviceCode, T0, unique } from './engines.js';

const approval = (userId: string) => ({ status: 'approved' as const, userId, grantedScopes: ['valuate:read'] });

/** A device waiting over MQTT on an approved code: its rid. */
async function approvedRid(store: StoreEngine): Promise<string> {
  const { client, user, code } = await seedDeviceCode(store);
  const rid = unique('rid');
  await store.mqtt.insert({ rid, deviceCodeId: code.id, clientId: client.id, jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }, jwkThumbprint: 'thumb', createdAt: T0 });
  await store.deviceCodes.decide(code.id, approval(user.id), T0 + 1);
  return rid;
}

/** What the sweep does with the rows it read: tell those whose status is known neither in memory nor in the store. */
const untold = (listed: { rid: string }[], known: (rid: string) => unknown) => listed.map((r) => r.rid).filter((rid) => known(rid) === undefined);

forEachEngine((engine) => {
  describe('MQTT write-behind', () => {
    it('keeps a flushed status known while a sweep that read the store before the flush decides', async () => {
      const store = await engine.open();
      const writeBehind = createWriteBehind(store.mqtt, (err) => {
        throw err;
      });
      const rid = await approvedRid(store);
      writeBehind.markNotified(rid, 'approved');

      // The sweep reads the store first: the status is not in it yet.
      const readBeforeFlush = (await store.mqtt.listUnnotified(T0 + 2, 100)).filter((r) => r.rid === rid);
      expect(readBeforeFlush).toHaveLength(1);
      await writeBehind.flush();
      // Then decides: the status has left the unflushed batch, and must still be known.
      expect(untold(readBeforeFlush, writeBehind.notifiedStatus)).toEqual([]);
      // A sweep reading now finds it in the store.
      expect((await store.mqtt.listUnnotified(T0 + 2, 100)).map((r) => r.rid)).not.toContain(rid);
    });

    it('forgets a flushed status once the next flush is stored, the store answering for it', async () => {
      const store = await engine.open();
      const writeBehind = createWriteBehind(store.mqtt, (err) => {
        throw err;
      });
      const first = await approvedRid(store);
      const second = await approvedRid(store);
      writeBehind.markNotified(first, 'approved');
      await writeBehind.flush();
      expect(writeBehind.notifiedStatus(first)).toBe('approved');
      writeBehind.markNotified(second, 'approved');
      await writeBehind.flush();
      expect(writeBehind.notifiedStatus(first)).toBeUndefined();
      expect(writeBehind.notifiedStatus(second)).toBe('approved');
      expect((await store.mqtt.get(first))!.notifiedStatus).toBe('approved');
    });
  });
});
