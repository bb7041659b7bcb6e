// The `grants` repository and the client grants of `store.authorization`, the same cases on
// SQLite and PostgreSQL, and a revocation racing a rotation on two instances.
import { describe, expect, it } from 'vitest';
import { aGrant, aRefreshToken, forEachEngine, seed, seedGrant, T0 } from './engines.js';

forEachEngine((engine) => {
  describe('grants', () => {
    it('keeps a grant as redeemed, found by id', async () => {
      const store = await engine.open();
      const { grant } = await seedGrant(store, { deviceName: 'Kitchen TV', dpopJkt: 'jkt-1', scopes: ['valuate:read', 'billing:read'] });
      expect(await store.grants.get(grant.id)).toEqual(grant);
      expect(await store.grants.get('nothing')).toBeUndefined();
    });

    it('lists a person’s live grants, newest first', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      const old = aGrant(client.id, user.id, { createdAt: T0 });
      const newer = aGrant(client.id, user.id, { createdAt: T0 + 10 });
      const revoked = aGrant(client.id, user.id, { createdAt: T0 + 20 });
      for (const g of [old, newer, revoked]) await store.authorization.insertClientCredentialsGrant(g, 0);
      await store.grants.revoke(revoked.id, T0 + 30);
      expect((await store.grants.listByUser(user.id)).map((g) => g.id)).toEqual([newer.id, old.id]);
      expect(await store.grants.listByUser('someone else')).toEqual([]);
    });

    it('revokes a grant once, with every refresh token of its family', async () => {
      const store = await engine.open();
      const { grant, refresh, client } = await seedGrant(store);
      const next = aRefreshToken(grant.id, client.id);
      expect(await store.refreshTokens.rotate(refresh.tokenHash, next, T0 + 5)).toBe(true);

      expect(await store.grants.revoke(grant.id, T0 + 10)).toBe(true);
      expect((await store.grants.get(grant.id))!.revokedAt).toBe(T0 + 10);
      expect(await store.refreshTokens.getByHash(refresh.tokenHash)).toBeUndefined();
      expect(await store.refreshTokens.getByHash(next.tokenHash)).toBeUndefined();
      expect(await store.grants.revoke(grant.id, T0 + 20)).toBe(false);
      expect((await store.grants.get(grant.id))!.revokedAt).toBe(T0 + 10);
      expect(await store.grants.revoke('nothing', T0)).toBe(false);
    });

    it('renames the paired device', async () => {
      const store = await engine.open();
      const { grant } = await seedGrant(store);
      await store.grants.rename(grant.id, 'Bedroom TV');
      expect((await store.grants.get(grant.id))!.deviceName).toBe('Bedroom TV');
    });
  });

  describe('client grants', () => {
    it('tells whether a person holds a live grant for a client', async () => {
      const store = await engine.open();
      const { client, user, grant } = await seedGrant(store);
      expect(await store.authorization.hasActiveGrant(user.id, client.id)).toBe(true);
      expect(await store.authorization.hasActiveGrant(user.id, 'other client')).toBe(false);
      await store.grants.revoke(grant.id, T0 + 1);
      expect(await store.authorization.hasActiveGrant(user.id, client.id)).toBe(false);
    });

    it('lists the ids of a client’s live grants', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      const live = aGrant(client.id, user.id);
      const gone = aGrant(client.id, null, { origin: 'client_credentials' });
      await store.authorization.insertClientCredentialsGrant(live, 0);
      await store.authorization.insertClientCredentialsGrant(gone, 0);
      await store.grants.revoke(gone.id, T0 + 1);
      expect(await store.authorization.activeGrantIds(client.id)).toEqual([live.id]);
      expect(await store.authorization.activeGrantIds('other client')).toEqual([]);
    });

    it('drops a client’s client-credentials grants created before the cut, and only those', async () => {
      const store = await engine.open();
      const { client, user } = await seed(store);
      const other = (await seed(store)).client;
      const machine = (createdAt: number, clientId = client.id) => aGrant(clientId, null, { origin: 'client_credentials', createdAt, requestIp: null, requestUserAgent: null });
      const old = machine(T0);
      const recent = machine(T0 + 100);
      const otherClients = machine(T0, other.id);
      const person = aGrant(client.id, user.id, { createdAt: T0 });
      for (const g of [old, recent, otherClients, person]) await store.authorization.insertClientCredentialsGrant(g, 0);

      const latest = machine(T0 + 200);
      await store.authorization.insertClientCredentialsGrant(latest, T0 + 50);
      expect(await store.grants.get(old.id)).toBeUndefined();
      expect(await store.grants.get(recent.id)).toEqual(recent);
      expect(await store.grants.get(latest.id)).toEqual(latest);
      expect(await store.grants.get(otherClients.id)).toEqual(otherClients);
      expect(await store.grants.get(person.id)).toEqual(person);
    });
  });

  describe('grants across instances on one database', () => {
    it('a revocation racing a rotation on another instance leaves no live token in the family', async () => {
      const [a, b] = await engine.instances(2);
      for (let round = 0; round < 10; round++) {
        const { grant, refresh, client } = await seedGrant(a!);
        const next = aRefreshToken(grant.id, client.id);
        const [rotated, revoked] = await Promise.all([a!.refreshTokens.rotate(refresh.tokenHash, next, T0 + 5), b!.grants.revoke(grant.id, T0 + 6)]);
        expect(revoked).toBe(true);
        expect(typeof rotated).toBe('boolean');
        expect(await a!.refreshTokens.getByHash(next.tokenHash)).toBeUndefined();
        expect(await b!.refreshTokens.getByHash(refresh.tokenHash)).toBeUndefined();
        // And the family stays closed: the old token rotates no more.
        expect(await b!.refreshTokens.rotate(refresh.tokenHash, aRefreshToken(grant.id, client.id), T0 + 7)).toBe(false);
      }
    });

    it('of two revocations racing, one reports the revocation', async () => {
      const [a, b] = await engine.instances(2);
      const { grant } = await seedGrant(a!);
      const results = await Promise.all([a!.grants.revoke(grant.id, T0 + 1), b!.grants.revoke(grant.id, T0 + 2)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect((await a!.grants.get(grant.id))!.revokedAt).toBe(results[0] ? T0 + 1 : T0 + 2);
    });
  });
});
