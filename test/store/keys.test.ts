/** The `keys` repository on both engines: rotation retires the previous key of each algorithm, once even when instances rotate at once. */
import { describe, expect, it } from 'vitest';
import type { KeyRecord, StoreEngine } from '../../server/src/store/port/index.js';
import { T0, forEachEngine, unique } from './engines.js';

function aKey(alg: KeyRecord['alg'], createdAt: number, overrides: Partial<KeyRecord> = {}): KeyRecord {
  const kid = unique('kid');
  const use = alg === 'ECDH-ES+A256KW' ? 'enc' : 'sig';
  const publicJwk = alg === 'RS256' ? { kty: 'RSA', n: `n-${kid}`, e: 'AQAB', kid, alg } : { kty: 'EC', crv: 'P-256', x: `x-${kid}`, y: `y-${kid}`, kid, alg, use };
  return { kid, alg, use, privateJwk: { ...publicJwk, d: `d-${kid}` }, publicJwk, createdAt, retiredAt: null, ...overrides };
}

const active = (keys: KeyRecord[], alg: KeyRecord['alg']) => keys.filter((k) => k.alg === alg && k.retiredAt === null);

forEachEngine((engine) => {
  describe('keys', () => {
    it('lists nothing on a fresh database', async () => {
      const store = await engine.open();
      expect(await store.keys.list()).toEqual([]);
    });

    it('keeps a rotated key as given, JWKs and all, newest first', async () => {
      const store = await engine.open();
      const first = aKey('ES256', T0);
      const enc = aKey('ECDH-ES+A256KW', T0);
      await store.keys.rotate([first, enc], T0);
      const rsa = aKey('RS256', T0 + 10);
      await store.keys.rotate([rsa], T0 + 10);

      const keys = await store.keys.list();
      expect(keys.map((k) => k.kid)).toEqual([rsa.kid, ...[first.kid, enc.kid].sort()]);
      expect(keys.find((k) => k.kid === first.kid)).toEqual(first);
      expect(keys.find((k) => k.kid === enc.kid)).toEqual(enc);
      expect(keys[0]).toEqual(rsa);
    });

    it('retires the active key of each rotated algorithm at `now`, and only those', async () => {
      const store = await engine.open();
      const es = aKey('ES256', T0);
      const rs = aKey('RS256', T0);
      const enc = aKey('ECDH-ES+A256KW', T0);
      await store.keys.rotate([es, rs, enc], T0);

      const es2 = aKey('ES256', T0 + 1000);
      const enc2 = aKey('ECDH-ES+A256KW', T0 + 1000);
      await store.keys.rotate([es2, enc2], T0 + 1000);

      const keys = await store.keys.list();
      const byKid = new Map(keys.map((k) => [k.kid, k]));
      expect(byKid.get(es.kid)!.retiredAt).toBe(T0 + 1000);
      expect(byKid.get(enc.kid)!.retiredAt).toBe(T0 + 1000);
      expect(byKid.get(rs.kid)!.retiredAt).toBeNull();
      expect(active(keys, 'ES256').map((k) => k.kid)).toEqual([es2.kid]);
      expect(active(keys, 'ECDH-ES+A256KW').map((k) => k.kid)).toEqual([enc2.kid]);
      expect(active(keys, 'RS256').map((k) => k.kid)).toEqual([rs.kid]);

      // A retired key keeps its first retirement time through later rotations.
      await store.keys.rotate([aKey('ES256', T0 + 2000)], T0 + 2000);
      const later = new Map((await store.keys.list()).map((k) => [k.kid, k]));
      expect(later.get(es.kid)!.retiredAt).toBe(T0 + 1000);
      expect(later.get(es2.kid)!.retiredAt).toBe(T0 + 2000);
    });

    it('writes nothing when a rotation fails part-way (a kid taken)', async () => {
      const store = await engine.open();
      const es = aKey('ES256', T0);
      await store.keys.rotate([es], T0);
      const before = await store.keys.list();
      // The ES256 retirement runs first; the duplicate kid then fails the insert: all rolled back.
      await expect(store.keys.rotate([aKey('ES256', T0 + 5), aKey('RS256', T0 + 5, { kid: es.kid })], T0 + 5)).rejects.toThrow();
      expect(await store.keys.list()).toEqual(before);
    });

    it('is the same set of keys on every instance', async () => {
      const [a, b] = await engine.instances(2);
      const es = aKey('ES256', T0);
      await a!.keys.rotate([es], T0);
      expect(await b!.keys.list()).toEqual([es]);
      const es2 = aKey('ES256', T0 + 1);
      await b!.keys.rotate([es2], T0 + 1);
      expect(active(await a!.keys.list(), 'ES256').map((k) => k.kid)).toEqual([es2.kid]);
    });

    it('adds only the algorithms without an active key, and returns what it added', async () => {
      const store = await engine.open();
      const es = aKey('ES256', T0);
      await store.keys.rotate([es], T0);
      const [esAgain, rs] = [aKey('ES256', T0 + 1), aKey('RS256', T0 + 1)];
      expect((await store.keys.addMissing([esAgain, rs])).map((k) => k.kid)).toEqual([rs.kid]);
      expect((await store.keys.list()).map((k) => [k.kid, k.retiredAt]).sort()).toEqual([[es.kid, null], [rs.kid, null]].sort());
      expect(await store.keys.addMissing([aKey('RS256', T0 + 2)])).toEqual([]);
    });

    it('creates one key set when instances start together on an empty database', async () => {
      const stores = await engine.instances(3);
      const added = await Promise.all(stores.map((s: StoreEngine, i) => s.keys.addMissing([aKey('ES256', T0 + i), aKey('RS256', T0 + i), aKey('ECDH-ES+A256KW', T0 + i)])));
      const keys = await stores[0]!.keys.list();
      expect(keys).toHaveLength(3);
      expect(keys.every((k) => k.retiredAt === null)).toBe(true);
      expect(added.flat().map((k) => k.kid).sort()).toEqual(keys.map((k) => k.kid).sort());
    });

    it('leaves one active key per algorithm when instances rotate at once', async () => {
      const stores = await engine.instances(3);
      await stores[0]!.keys.rotate([aKey('ES256', T0), aKey('ECDH-ES+A256KW', T0)], T0);
      for (let round = 1; round <= 8; round++) {
        const at = T0 + round * 1000;
        await Promise.all(stores.map((s: StoreEngine, i) => s.keys.rotate([aKey('ES256', at + i), aKey('ECDH-ES+A256KW', at + i)], at + i)));
        const keys = await stores[round % 3]!.keys.list();
        expect(active(keys, 'ES256')).toHaveLength(1);
        expect(active(keys, 'ECDH-ES+A256KW')).toHaveLength(1);
        expect(keys).toHaveLength(2 + round * 6);
      }
    });
  });
});
