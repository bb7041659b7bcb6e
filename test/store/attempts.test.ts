/** The `attempts` repository on both engines: failure counters of the limiters, never losing a count, even across instances. */
import { describe, expect, it } from 'vitest';
import { T0, forEachEngine, unique } from './engines.js';

const MINUTE = 60_000;

forEachEngine((engine) => {
  describe('attempts', () => {
    it('has no counter for a key never failed', async () => {
      const store = await engine.open();
      expect(await store.attempts.get(unique('device:ip'))).toBeUndefined();
    });

    it('counts failures under a key and answers the new count', async () => {
      const store = await engine.open();
      const key = unique('device:ip');
      expect(await store.attempts.recordFailure(key, T0, T0 - MINUTE)).toEqual({ failures: 1, lastFailureAt: T0 });
      expect(await store.attempts.recordFailure(key, T0 + 10, T0 - MINUTE)).toEqual({ failures: 2, lastFailureAt: T0 + 10 });
      expect(await store.attempts.recordFailure(key, T0 + 20, T0 - MINUTE)).toEqual({ failures: 3, lastFailureAt: T0 + 20 });
      expect(await store.attempts.get(key)).toEqual({ failures: 3, lastFailureAt: T0 + 20 });
      // Keys are counted apart.
      expect(await store.attempts.recordFailure(unique('device:ip'), T0 + 30, T0 - MINUTE)).toEqual({ failures: 1, lastFailureAt: T0 + 30 });
      expect(await store.attempts.get(key)).toEqual({ failures: 3, lastFailureAt: T0 + 20 });
    });

    it('starts again at 1 when the counter was idle since before `forgetBefore`', async () => {
      const store = await engine.open();
      const key = unique('signin:user');
      await store.attempts.recordFailure(key, T0, T0 - MINUTE);
      await store.attempts.recordFailure(key, T0 + 1, T0 - MINUTE);
      // Last failure exactly at forgetBefore: still counted on.
      expect(await store.attempts.recordFailure(key, T0 + MINUTE, T0 + 1)).toEqual({ failures: 3, lastFailureAt: T0 + MINUTE });
      // Idle since before forgetBefore: forgotten.
      expect(await store.attempts.recordFailure(key, T0 + 10 * MINUTE, T0 + MINUTE + 1)).toEqual({ failures: 1, lastFailureAt: T0 + 10 * MINUTE });
    });

    it('purges counters idle since before a time and counts them', async () => {
      const store = await engine.open();
      const old = unique('k');
      const edge = unique('k');
      const fresh = unique('k');
      await store.attempts.recordFailure(old, T0, 0);
      await store.attempts.recordFailure(edge, T0 + 100, 0);
      await store.attempts.recordFailure(fresh, T0 + 200, 0);
      expect(await store.attempts.purgeOlderThan(T0 + 100)).toBe(1);
      expect(await store.attempts.get(old)).toBeUndefined();
      expect(await store.attempts.get(edge)).toEqual({ failures: 1, lastFailureAt: T0 + 100 });
      expect(await store.attempts.purgeOlderThan(T0 + 201)).toBe(2);
      expect(await store.attempts.get(fresh)).toBeUndefined();
    });

    it('loses no count when instances record failures on one key at once', async () => {
      const stores = await engine.instances(3);
      const key = unique('device:ip');
      const perStore = 20;
      const counters = await Promise.all(
        stores.flatMap((s, i) => Array.from({ length: perStore }, (_, j) => s.attempts.recordFailure(key, T0 + i * perStore + j, T0 - MINUTE))),
      );
      const total = stores.length * perStore;
      // Each failure got a count of its own: 1..total, none twice.
      expect(counters.map((c) => c.failures).sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      for (const s of stores) expect((await s.attempts.get(key))!.failures).toBe(total);
    });

    it('counts a brand-new key once per failure when instances create it at once', async () => {
      const stores = await engine.instances(2);
      for (let round = 0; round < 5; round++) {
        const key = unique('signin:user');
        const counters = await Promise.all(stores.map((s) => s.attempts.recordFailure(key, T0, T0 - MINUTE)));
        expect(counters.map((c) => c.failures).sort()).toEqual([1, 2]);
      }
    });
  });
});
