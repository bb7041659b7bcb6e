// RFC 8628 §3.5 poll pacing. The same cases on both engines, each through the pacing the engine
// gives core: PostgreSQL's shared `pollPacing` (every instance on the database counts the same
// polls), SQLite's none, so core's in-memory pacer (one process per database). Then the
// cross-instance cases, which only a shared pacing can pass.
import { describe, expect, it } from 'vitest';
import { createPollPacer } from '../../server/src/core/poll-pacing.js';
import type { StoreEngine } from '../../server/src/store/port/index.js';
import { forEachEngine, seedDeviceCode, T0 } from './engines.js';

const STEP = 5;

/** What core paces with on this store (see createDeviceFlow). */
function pacingOf(store: StoreEngine) {
  return store.pollPacing ?? createPollPacer();
}

forEachEngine((engine) => {
  describe('poll pacing', () => {
    it('lets the first poll through at the code’s own interval', async () => {
      const store = await engine.open();
      const { code } = await seedDeviceCode(store, { interval: 7 });
      expect(await pacingOf(store).poll(code.id, T0, code, STEP)).toEqual({ early: false, interval: 7 });
    });

    it('slows down a poll sooner than the interval, by 5 s each time, and the longer interval holds', async () => {
      const store = await engine.open();
      const pacing = pacingOf(store);
      const { code } = await seedDeviceCode(store, { interval: 5 });
      expect(await pacing.poll(code.id, T0, code, STEP)).toEqual({ early: false, interval: 5 });
      expect(await pacing.poll(code.id, T0 + 4_999, code, STEP)).toEqual({ early: true, interval: 10 });
      // 10 s now in force, counted from the last poll (even an early one).
      expect(await pacing.poll(code.id, T0 + 4_999 + 9_999, code, STEP)).toEqual({ early: true, interval: 15 });
      expect(await pacing.poll(code.id, T0 + 4_999 + 9_999 + 15_000, code, STEP)).toEqual({ early: false, interval: 15 });
    });

    it('lets a poll exactly one interval later through', async () => {
      const store = await engine.open();
      const pacing = pacingOf(store);
      const { code } = await seedDeviceCode(store, { interval: 5 });
      await pacing.poll(code.id, T0, code, STEP);
      expect(await pacing.poll(code.id, T0 + 5_000, code, STEP)).toEqual({ early: false, interval: 5 });
      expect(await pacing.poll(code.id, T0 + 10_000, code, STEP)).toEqual({ early: false, interval: 5 });
    });

    it('paces each code on its own', async () => {
      const store = await engine.open();
      const pacing = pacingOf(store);
      const a = (await seedDeviceCode(store)).code;
      const b = (await seedDeviceCode(store)).code;
      await pacing.poll(a.id, T0, a, STEP);
      expect(await pacing.poll(b.id, T0 + 1, b, STEP)).toEqual({ early: false, interval: 5 });
      expect(await pacing.poll(a.id, T0 + 2, a, STEP)).toEqual({ early: true, interval: 10 });
    });

    it('counts polls arriving at once one after another: one first poll, the rest early', async () => {
      const store = await engine.open();
      const pacing = pacingOf(store);
      const { code } = await seedDeviceCode(store, { interval: 5 });
      const results = await Promise.all(Array.from({ length: 8 }, () => pacing.poll(code.id, T0, code, STEP)));
      expect(results.filter((r) => !r.early)).toHaveLength(1);
      expect(results.map((r) => r.interval).sort((x, y) => x - y)).toEqual([5, 10, 15, 20, 25, 30, 35, 40]);
    });
  });
});

forEachEngine(
  (engine) => {
    describe('poll pacing across instances on one database', () => {
      it('a device polling three instances in turn at a third of its interval gets slow_down', async () => {
        const stores = await engine.instances(3);
        const { code } = await seedDeviceCode(stores[0]!, { interval: 6 });
        const answers = [];
        for (let i = 0; i < 4; i++) answers.push(await stores[i % 3]!.pollPacing!.poll(code.id, T0 + i * 2_000, code, STEP));
        expect(answers).toEqual([
          { early: false, interval: 6 },
          { early: true, interval: 11 },
          { early: true, interval: 16 },
          { early: true, interval: 21 },
        ]);
      });

      it('polls racing on several instances are each counted once', async () => {
        const stores = await engine.instances(3);
        const { code } = await seedDeviceCode(stores[0]!, { interval: 5 });
        const results = await Promise.all(stores.flatMap((s) => [s, s, s]).map((s) => s.pollPacing!.poll(code.id, T0, code, STEP)));
        expect(results.filter((r) => !r.early)).toHaveLength(1);
        expect(Math.max(...results.map((r) => r.interval))).toBe(5 + 8 * STEP);
      });

      it('a code purged between its read and its poll is paced as a first poll', async () => {
        const [a, b] = await engine.instances(2);
        const { code } = await seedDeviceCode(a!, { interval: 5 });
        await a!.pollPacing!.poll(code.id, T0, code, STEP);
        expect(await b!.deviceCodes.purgeExpired(code.expiresAt + 1)).toBe(1);
        expect(await b!.pollPacing!.poll(code.id, T0 + 1, code, STEP)).toEqual({ early: false, interval: 5 });
      });
    });
  },
  ['postgres'],
);
