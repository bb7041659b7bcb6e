/** The `dpop` repository on both engines: a proof is remembered once (replays refused by every instance), the nonce secret is created once. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { T0, forEachEngine, hash, unique } from './engines.js';

forEachEngine((engine) => {
  describe('dpop proofs', () => {
    it('remembers a new proof and refuses it again while it is fresh', async () => {
      const store = await engine.open();
      const key = hash();
      expect(await store.dpop.rememberProof(key, T0 + 300, T0)).toBe(true);
      expect(await store.dpop.rememberProof(key, T0 + 400, T0 + 100)).toBe(false);
      expect(await store.dpop.rememberProof(key, T0 + 600, T0 + 299)).toBe(false);
      // Another proof is not a replay of this one.
      expect(await store.dpop.rememberProof(hash(), T0 + 300, T0)).toBe(true);
    });

    it('takes over a proof key whose remembered proof has expired', async () => {
      const store = await engine.open();
      const key = hash();
      await store.dpop.rememberProof(key, T0 + 300, T0);
      expect(await store.dpop.rememberProof(key, T0 + 600, T0 + 300)).toBe(true);
      // Remembered again until the new expiry.
      expect(await store.dpop.rememberProof(key, T0 + 900, T0 + 599)).toBe(false);
      expect(await store.dpop.rememberProof(key, T0 + 900, T0 + 600)).toBe(true);
    });

    it('purges proofs expired before a time and counts them', async () => {
      const store = await engine.open();
      const old = hash();
      const edge = hash();
      await store.dpop.rememberProof(old, T0 + 100, T0);
      await store.dpop.rememberProof(edge, T0 + 200, T0);
      expect(await store.dpop.purgeExpiredProofs(T0 + 200)).toBe(1);
      expect(await store.dpop.purgeExpiredProofs(T0 + 200)).toBe(0);
      // `edge` is still remembered at T0 + 150; `old` was forgotten.
      expect(await store.dpop.rememberProof(edge, T0 + 500, T0 + 150)).toBe(false);
      expect(await store.dpop.rememberProof(old, T0 + 500, T0 + 50)).toBe(true);
    });

    it('lets exactly one instance remember a proof presented to several at once', async () => {
      const stores = await engine.instances(3);
      for (let round = 0; round < 5; round++) {
        const key = hash();
        const results = await Promise.all(stores.flatMap((s) => [s.dpop.rememberProof(key, T0 + 300, T0), s.dpop.rememberProof(key, T0 + 300, T0)]));
        expect(results.filter(Boolean)).toHaveLength(1);
      }
    });
  });

  describe('server secrets', () => {
    it('stores the first candidate and answers it ever after', async () => {
      const store = await engine.open();
      const name = unique('dpop-nonce');
      const first = randomBytes(32);
      expect(await store.dpop.serverSecret(name, first, T0)).toEqual(first);
      expect(await store.dpop.serverSecret(name, randomBytes(32), T0 + 1)).toEqual(first);
      // Secrets are kept by name.
      const other = randomBytes(32);
      expect(await store.dpop.serverSecret(unique('other'), other, T0)).toEqual(other);
    });

    it('gives every instance the same secret when they ask at once', async () => {
      const stores = await engine.instances(3);
      for (let round = 0; round < 5; round++) {
        const name = unique('dpop-nonce');
        const candidates = stores.map(() => randomBytes(32));
        const secrets = await Promise.all(stores.map((s, i) => s.dpop.serverSecret(name, candidates[i]!, T0)));
        expect(new Set(secrets.map((s) => s.toString('hex'))).size).toBe(1);
        expect(candidates.some((c) => c.equals(secrets[0]!))).toBe(true);
      }
    });
  });
});
