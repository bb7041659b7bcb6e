// The `refreshTokens` and `accessTokens` repositories, the same cases on SQLite and
// PostgreSQL, and rotations of one token racing on several instances.
import { describe, expect, it } from 'vitest';
import { aRefreshToken, forEachEngine, seedGrant, T0 } from './engines.js';

forEachEngine((engine) => {
  describe('refresh tokens', () => {
    it('finds a refresh token by its hash', async () => {
      const store = await engine.open();
      const { refresh } = await seedGrant(store);
      expect(await store.refreshTokens.getByHash(refresh.tokenHash)).toEqual(refresh);
      expect(await store.refreshTokens.getByHash(Buffer.alloc(32))).toBeUndefined();
    });

    it('reads a refresh token with its grant and whether its person is disabled, in one read', async () => {
      const store = await engine.open();
      const { grant, refresh, user } = await seedGrant(store);
      expect(await store.refreshTokens.getWithGrant(refresh.tokenHash)).toEqual({ token: refresh, grant, accountDisabled: false });
      await store.users.update(user.id, { disabledAt: T0 + 5 });
      expect((await store.refreshTokens.getWithGrant(refresh.tokenHash))!.accountDisabled).toBe(true);
      expect(await store.refreshTokens.getWithGrant(Buffer.alloc(32))).toBeUndefined();
    });

    it('rotates once: the old token is spent, the new one stored, the grant marked used', async () => {
      const store = await engine.open();
      const { grant, refresh, client } = await seedGrant(store);
      const next = aRefreshToken(grant.id, client.id, { createdAt: T0 + 10 });
      expect(await store.refreshTokens.rotate(refresh.tokenHash, next, T0 + 10)).toBe(true);
      expect((await store.refreshTokens.getByHash(refresh.tokenHash))!.usedAt).toBe(T0 + 10);
      expect(await store.refreshTokens.getByHash(next.tokenHash)).toEqual(next);
      expect((await store.grants.get(grant.id))!.lastUsedAt).toBe(T0 + 10);
    });

    it('refuses a spent token (reuse) and writes nothing', async () => {
      const store = await engine.open();
      const { grant, refresh, client } = await seedGrant(store);
      await store.refreshTokens.rotate(refresh.tokenHash, aRefreshToken(grant.id, client.id), T0 + 10);
      const reuse = aRefreshToken(grant.id, client.id);
      expect(await store.refreshTokens.rotate(refresh.tokenHash, reuse, T0 + 20)).toBe(false);
      expect(await store.refreshTokens.getByHash(reuse.tokenHash)).toBeUndefined();
      expect((await store.refreshTokens.getByHash(refresh.tokenHash))!.usedAt).toBe(T0 + 10);
      expect((await store.grants.get(grant.id))!.lastUsedAt).toBe(T0 + 10);
    });

    it('refuses a token of a revoked grant, and an unknown one', async () => {
      const store = await engine.open();
      const { grant, refresh, client } = await seedGrant(store);
      await store.grants.revoke(grant.id, T0 + 1);
      const next = aRefreshToken(grant.id, client.id);
      expect(await store.refreshTokens.rotate(refresh.tokenHash, next, T0 + 2)).toBe(false);
      expect(await store.refreshTokens.getByHash(next.tokenHash)).toBeUndefined();
      expect(await store.refreshTokens.rotate(Buffer.alloc(32), aRefreshToken(grant.id, client.id), T0 + 2)).toBe(false);
    });

    it('rotates a chain: each successor rotates in turn', async () => {
      const store = await engine.open();
      const { grant, refresh, client } = await seedGrant(store);
      let current = refresh;
      for (let i = 1; i <= 5; i++) {
        const next = aRefreshToken(grant.id, client.id);
        expect(await store.refreshTokens.rotate(current.tokenHash, next, T0 + i)).toBe(true);
        current = next;
      }
      expect((await store.refreshTokens.getByHash(current.tokenHash))!.usedAt).toBeNull();
    });
  });

  describe('revoked access tokens', () => {
    it('remembers a revoked jti, twice without harm', async () => {
      const store = await engine.open();
      expect(await store.accessTokens.isRevoked('jti-1')).toBe(false);
      await store.accessTokens.revoke('jti-1', T0 + 3_600_000);
      await store.accessTokens.revoke('jti-1', T0 + 3_600_000);
      expect(await store.accessTokens.isRevoked('jti-1')).toBe(true);
      expect(await store.accessTokens.isRevoked('jti-2')).toBe(false);
    });
  });

  describe('refresh tokens across instances on one database', () => {
    it('of rotations of one token racing on three instances, exactly one wins', async () => {
      const stores = await engine.instances(3);
      for (let round = 0; round < 10; round++) {
        const { grant, refresh, client } = await seedGrant(stores[0]!);
        const nexts = stores.map(() => aRefreshToken(grant.id, client.id));
        const results = await Promise.all(stores.map((s, i) => s.refreshTokens.rotate(refresh.tokenHash, nexts[i]!, T0 + 10 + i)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = results.indexOf(true);
        for (const [i, next] of nexts.entries()) {
          const stored = await stores[(i + 1) % 3]!.refreshTokens.getByHash(next.tokenHash);
          if (i === winner) expect(stored).toEqual(next);
          else expect(stored).toBeUndefined();
        }
        expect((await stores[1]!.refreshTokens.getByHash(refresh.tokenHash))!.usedAt).toBe(T0 + 10 + winner);
      }
    });

    it('a revocation on one instance is seen by a rotation on another', async () => {
      const [a, b] = await engine.instances(2);
      const { grant, refresh, client } = await seedGrant(a!);
      await a!.grants.revoke(grant.id, T0 + 1);
      expect(await b!.refreshTokens.rotate(refresh.tokenHash, aRefreshToken(grant.id, client.id), T0 + 2)).toBe(false);
      await a!.accessTokens.revoke('jti-x', T0 + 60_000);
      expect(await b!.accessTokens.isRevoked('jti-x')).toBe(true);
    });
  });
});
