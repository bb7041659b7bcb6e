// `store.authorization`: authorization codes (RFC 6749 §4.1) and remembered consent, the same
// cases on SQLite and PostgreSQL, and redemptions of one code racing on several instances.
import { describe, expect, it } from 'vitest';
import { aGrant, anAuthorizationCode, aRefreshToken, forEachEngine, seed, T0 } from './engines.js';

forEachEngine((engine) => {
  describe('authorization codes', () => {
    it('keeps a code as issued', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      const code = anAuthorizationCode(client.id, user.id, { redirectUriGiven: false, dpopJkt: 'jkt-1', scopes: ['valuate:read', 'billing:read'] });
      await store.authorization.insertCode(code);
      expect(await store.authorization.getCode(code.codeHash)).toEqual(code);
      expect(await store.authorization.getCode(Buffer.alloc(32))).toBeUndefined();
    });

    it('spends a code once, with its grant and refresh token', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      const code = anAuthorizationCode(client.id, user.id);
      await store.authorization.insertCode(code);
      const grant = aGrant(client.id, user.id, { origin: 'authorization_code' });
      const refresh = aRefreshToken(grant.id, client.id);
      expect(await store.authorization.redeemCode(code.codeHash, grant, refresh, T0 + 10)).toBe(true);
      expect(await store.authorization.getCode(code.codeHash)).toEqual({ ...code, usedAt: T0 + 10, grantId: grant.id });
      expect(await store.grants.get(grant.id)).toEqual(grant);
      expect(await store.refreshTokens.getByHash(refresh.tokenHash)).toEqual(refresh);

      const again = aGrant(client.id, user.id, { origin: 'authorization_code' });
      expect(await store.authorization.redeemCode(code.codeHash, again, undefined, T0 + 11)).toBe(false);
      expect(await store.grants.get(again.id)).toBeUndefined();
    });

    it('refuses an expired code and writes nothing', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      const code = anAuthorizationCode(client.id, user.id);
      await store.authorization.insertCode(code);
      const grant = aGrant(client.id, user.id);
      const refresh = aRefreshToken(grant.id, client.id);
      expect(await store.authorization.redeemCode(code.codeHash, grant, refresh, code.expiresAt)).toBe(false);
      expect(await store.grants.get(grant.id)).toBeUndefined();
      expect(await store.refreshTokens.getByHash(refresh.tokenHash)).toBeUndefined();
      expect((await store.authorization.getCode(code.codeHash))!.usedAt).toBeNull();
    });

    it('purges codes that expired before the given time', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      const old = anAuthorizationCode(client.id, user.id, { expiresAt: T0 + 10 });
      const live = anAuthorizationCode(client.id, user.id, { expiresAt: T0 + 100 });
      await store.authorization.insertCode(old);
      await store.authorization.insertCode(live);
      expect(await store.authorization.purgeExpiredCodes(T0 + 50)).toBe(1);
      expect(await store.authorization.getCode(old.codeHash)).toBeUndefined();
      expect(await store.authorization.getCode(live.codeHash)).toEqual(live);
    });
  });

  describe('consent', () => {
    it('remembers what a person decided for a client, the latest decision winning', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      expect(await store.authorization.getConsent(user.id, client.id)).toBeUndefined();
      const first = { userId: user.id, clientId: client.id, requestedScopes: ['valuate:read', 'billing:read'], grantedScopes: ['valuate:read'], updatedAt: T0 };
      await store.authorization.saveConsent(first);
      expect(await store.authorization.getConsent(user.id, client.id)).toEqual(first);
      const second = { ...first, grantedScopes: [], updatedAt: T0 + 10 };
      await store.authorization.saveConsent(second);
      expect(await store.authorization.getConsent(user.id, client.id)).toEqual(second);
    });

    it('keeps consent per person and client', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      const other = await seed(store);
      await store.authorization.saveConsent({ userId: user.id, clientId: client.id, requestedScopes: ['a'], grantedScopes: ['a'], updatedAt: T0 });
      expect(await store.authorization.getConsent(other.user.id, client.id)).toBeUndefined();
      expect(await store.authorization.getConsent(user.id, other.client.id)).toBeUndefined();
    });
  });

  describe('authorization codes across instances on one database', () => {
    it('of redemptions of one code racing on three instances, exactly one creates a grant', async () => {
      const stores = await engine.instances(3);
      for (let round = 0; round < 10; round++) {
        const { client, user } = await seed(stores[0]!);
        const code = anAuthorizationCode(client.id, user.id);
        await stores[0]!.authorization.insertCode(code);
        const grants = stores.map(() => aGrant(client.id, user.id, { origin: 'authorization_code' }));
        const results = await Promise.all(stores.map((s, i) => s.authorization.redeemCode(code.codeHash, grants[i]!, aRefreshToken(grants[i]!.id, client.id), T0 + 1)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = grants[results.indexOf(true)]!;
        expect((await stores[2]!.authorization.getCode(code.codeHash))!.grantId).toBe(winner.id);
        expect(await stores[1]!.grants.listByUser(user.id)).toEqual([winner]);
      }
    });
  });
});
