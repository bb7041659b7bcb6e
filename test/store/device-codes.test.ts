// The `deviceCodes` repository (RFC 8628), the same cases on SQLite and PostgreSQL, and the
// races several instances on one database run: one decision, one redemption, one user code.
import { describe, expect, it } from 'vitest';
import { aDeviceCode, aGrant, aRefreshToken, forEachEngine, seed, seedDeviceCode, T0 } from './engines.js';

const approve = (userId: string, grantedScopes = ['valuate:read']) => ({ status: 'approved' as const, userId, grantedScopes });

forEachEngine((engine) => {
  describe('device codes', () => {
    it('inserts a pending code and finds it by id, by hash and by user code', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      const request = aDeviceCode(client.id, { requestIp: null, requestUserAgent: null });
      const code = await store.deviceCodes.insert(request, T0);
      expect(code).toEqual({
        ...request,
        id: expect.any(Number),
        status: 'pending',
        userId: null,
        grantedScopes: null,
        decidedAt: null,
        grantId: null,
      });
      expect(await store.deviceCodes.getById(code!.id)).toEqual(code);
      expect(await store.deviceCodes.getByHash(request.deviceCodeHash)).toEqual(code);
      expect(await store.deviceCodes.getByUserCode(request.userCode)).toEqual(code);
      expect(await store.deviceCodes.getById(code!.id + 1000)).toBeUndefined();
      expect(await store.deviceCodes.getByUserCode('NOPE0000')).toBeUndefined();
    });

    it('gives every code its own id', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      const a = await store.deviceCodes.insert(aDeviceCode(client.id), T0);
      const b = await store.deviceCodes.insert(aDeviceCode(client.id), T0);
      expect(a!.id).not.toBe(b!.id);
    });

    it('never gives the id of a purged newest code to a new one while the audit trail names it', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      const old = await store.deviceCodes.insert(aDeviceCode(client.id, { expiresAt: T0 + 100 }), T0);
      await store.audit.append({
        at: T0, type: 'device.requested', actorType: 'client', actorId: client.id, actorName: null, userId: null, username: null,
        clientId: client.id, grantId: null, deviceCodeId: old!.id, ip: null, scopes: null, details: {},
      });
      expect(await store.deviceCodes.purgeExpired(T0 + 200)).toBe(1);
      const next = await store.deviceCodes.insert(aDeviceCode(client.id), T0 + 300);
      expect(next!.id).toBeGreaterThan(old!.id);
    });

    it('refuses a user code a live code holds, and reuses one whose code has expired', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      const first = (await store.deviceCodes.insert(aDeviceCode(client.id, { userCode: 'BCDFGHJK' }), T0))!;
      expect(await store.deviceCodes.insert(aDeviceCode(client.id, { userCode: 'BCDFGHJK' }), first.expiresAt - 1)).toBeUndefined();
      expect((await store.deviceCodes.getByUserCode('BCDFGHJK'))!.id).toBe(first.id);

      const later = aDeviceCode(client.id, { userCode: 'BCDFGHJK', createdAt: first.expiresAt, expiresAt: first.expiresAt + 600_000 });
      const second = await store.deviceCodes.insert(later, first.expiresAt);
      expect(second).toBeDefined();
      // The expired row is gone (by its hash: SQLite may give the new row the old one's id).
      expect(await store.deviceCodes.getByHash(first.deviceCodeHash)).toBeUndefined();
      expect(await store.deviceCodes.getByUserCode('BCDFGHJK')).toEqual(second);
    });

    it('records an approval once: the granted scopes, the person, the time', async () => {
      const store = await engine.open();
      const { user, code } = await seedDeviceCode(store);
      expect(await store.deviceCodes.decide(code.id, approve(user.id, ['valuate:read']), T0 + 10)).toBe(true);
      expect(await store.deviceCodes.getById(code.id)).toMatchObject({ status: 'approved', userId: user.id, grantedScopes: ['valuate:read'], decidedAt: T0 + 10 });
      expect(await store.deviceCodes.decide(code.id, { status: 'denied', userId: user.id }, T0 + 20)).toBe(false);
      expect(await store.deviceCodes.getById(code.id)).toMatchObject({ status: 'approved', decidedAt: T0 + 10 });
    });

    it('records a denial, with or without a person', async () => {
      const store = await engine.open();
      const { code } = await seedDeviceCode(store);
      expect(await store.deviceCodes.decide(code.id, { status: 'denied', userId: null }, T0 + 10)).toBe(true);
      expect(await store.deviceCodes.getById(code.id)).toMatchObject({ status: 'denied', userId: null, grantedScopes: null, decidedAt: T0 + 10 });
    });

    it('keeps an approval with no scope granted apart from no decision', async () => {
      const store = await engine.open();
      const { user, code } = await seedDeviceCode(store);
      expect(await store.deviceCodes.decide(code.id, approve(user.id, []), T0 + 1)).toBe(true);
      expect((await store.deviceCodes.getById(code.id))!.grantedScopes).toEqual([]);
    });

    it('refuses a decision on an expired code, or an unknown one', async () => {
      const store = await engine.open();
      const { user, code } = await seedDeviceCode(store);
      expect(await store.deviceCodes.decide(code.id, approve(user.id), code.expiresAt)).toBe(false);
      expect((await store.deviceCodes.getById(code.id))!.status).toBe('pending');
      expect(await store.deviceCodes.decide(code.id + 1000, approve(user.id), T0 + 1)).toBe(false);
    });

    it('redeems an approved code once, with its grant and first refresh token', async () => {
      const store = await engine.open();
      const { client, user, code } = await seedDeviceCode(store);
      await store.deviceCodes.decide(code.id, approve(user.id), T0 + 1);
      const grant = aGrant(client.id, user.id);
      const refresh = aRefreshToken(grant.id, client.id);
      expect(await store.deviceCodes.redeem(code.id, grant, refresh)).toBe(true);
      expect(await store.deviceCodes.getById(code.id)).toMatchObject({ status: 'redeemed', grantId: grant.id, decidedAt: T0 + 1 });
      expect(await store.grants.get(grant.id)).toEqual(grant);
      expect(await store.refreshTokens.getByHash(refresh.tokenHash)).toEqual(refresh);

      const again = aGrant(client.id, user.id);
      const againRefresh = aRefreshToken(again.id, client.id);
      expect(await store.deviceCodes.redeem(code.id, again, againRefresh)).toBe(false);
      expect(await store.grants.get(again.id)).toBeUndefined();
      expect(await store.refreshTokens.getByHash(againRefresh.tokenHash)).toBeUndefined();
    });

    it('redeems without a refresh token when none is issued', async () => {
      const store = await engine.open();
      const { client, user, code } = await seedDeviceCode(store);
      await store.deviceCodes.decide(code.id, approve(user.id), T0 + 1);
      const grant = aGrant(client.id, user.id);
      expect(await store.deviceCodes.redeem(code.id, grant, undefined)).toBe(true);
      expect(await store.grants.get(grant.id)).toEqual(grant);
    });

    it('redeems neither a pending nor a denied code, and writes nothing then', async () => {
      const store = await engine.open();
      const { client, user, code } = await seedDeviceCode(store);
      const grant = aGrant(client.id, user.id);
      expect(await store.deviceCodes.redeem(code.id, grant, aRefreshToken(grant.id, client.id))).toBe(false);
      await store.deviceCodes.decide(code.id, { status: 'denied', userId: user.id }, T0 + 1);
      expect(await store.deviceCodes.redeem(code.id, grant, aRefreshToken(grant.id, client.id))).toBe(false);
      expect(await store.grants.get(grant.id)).toBeUndefined();
      expect(await store.grants.listByUser(user.id)).toEqual([]);
    });

    it('purges codes that expired before the given time, and no others', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      const old = (await store.deviceCodes.insert(aDeviceCode(client.id, { expiresAt: T0 + 100 }), T0))!;
      const edge = (await store.deviceCodes.insert(aDeviceCode(client.id, { expiresAt: T0 + 200 }), T0))!;
      const live = (await store.deviceCodes.insert(aDeviceCode(client.id, { expiresAt: T0 + 900 }), T0))!;
      expect(await store.deviceCodes.purgeExpired(T0 + 200)).toBe(1);
      expect(await store.deviceCodes.getById(old.id)).toBeUndefined();
      expect(await store.deviceCodes.getById(edge.id)).toBeDefined();
      expect(await store.deviceCodes.getById(live.id)).toBeDefined();
    });
  });

  describe('device codes read by hash, as a device polls', () => {
    it('answers each poll with the code as it is now: after a decision, an expired user code drawn again, the purge, its client deleted', async () => {
      const store = await engine.open();
      const { client, user, code } = await seedDeviceCode(store);
      const byHash = () => store.deviceCodes.getByHash(code.deviceCodeHash);
      expect((await byHash())!.status).toBe('pending');
      expect((await byHash())!.status).toBe('pending');
      await store.deviceCodes.decide(code.id, approve(user.id), T0 + 1);
      expect(await byHash()).toMatchObject({ status: 'approved', userId: user.id, grantedScopes: ['valuate:read'] });

      // A pending code that expires and whose user code is drawn again: the old code is gone.
      const short = (await store.deviceCodes.insert(aDeviceCode(client.id, { expiresAt: T0 + 100 }), T0))!;
      expect((await store.deviceCodes.getByHash(short.deviceCodeHash))!.status).toBe('pending');
      expect(await store.deviceCodes.insert(aDeviceCode(client.id, { userCode: short.userCode }), T0 + 200)).toBeDefined();
      expect(await store.deviceCodes.getByHash(short.deviceCodeHash)).toBeUndefined();

      const purged = (await store.deviceCodes.insert(aDeviceCode(client.id, { expiresAt: T0 + 100 }), T0))!;
      expect((await store.deviceCodes.getByHash(purged.deviceCodeHash))!.status).toBe('pending');
      expect(await store.deviceCodes.purgeExpired(T0 + 150)).toBe(1);
      expect(await store.deviceCodes.getByHash(purged.deviceCodeHash)).toBeUndefined();

      const waiting = (await store.deviceCodes.insert(aDeviceCode(client.id), T0))!;
      expect((await store.deviceCodes.getByHash(waiting.deviceCodeHash))!.status).toBe('pending');
      expect(await store.clients.delete(client.id)).toBe(true);
      expect(await store.deviceCodes.getByHash(waiting.deviceCodeHash)).toBeUndefined();
    });

    it('answers each poll with the code as another instance left it', async () => {
      const [a, b] = await engine.instances(2);
      const { user, code } = await seedDeviceCode(a!);
      expect((await a!.deviceCodes.getByHash(code.deviceCodeHash))!.status).toBe('pending');
      await b!.deviceCodes.decide(code.id, { status: 'denied', userId: user.id }, T0 + 1);
      expect((await a!.deviceCodes.getByHash(code.deviceCodeHash))!.status).toBe('denied');

      const other = await seedDeviceCode(a!);
      expect((await a!.deviceCodes.getByHash(other.code.deviceCodeHash))!.status).toBe('pending');
      await b!.clients.delete(other.client.id);
      expect(await a!.deviceCodes.getByHash(other.code.deviceCodeHash)).toBeUndefined();
    });
  });

  describe('device codes across instances on one database', () => {
    it('a decision taken on one instance is seen by the other', async () => {
      const [a, b] = await engine.instances(2);
      const { user, code } = await seedDeviceCode(a!);
      await a!.deviceCodes.decide(code.id, approve(user.id), T0 + 1);
      expect((await b!.deviceCodes.getByUserCode(code.userCode))!.status).toBe('approved');
    });

    it('of an approval and a denial racing on two instances, exactly one is taken', async () => {
      const [a, b] = await engine.instances(2);
      for (let round = 0; round < 10; round++) {
        const { user, code } = await seedDeviceCode(a!);
        const results = await Promise.all([
          a!.deviceCodes.decide(code.id, approve(user.id), T0 + 1),
          b!.deviceCodes.decide(code.id, { status: 'denied', userId: user.id }, T0 + 2),
        ]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const stored = (await b!.deviceCodes.getById(code.id))!;
        expect(stored.status).toBe(results[0] ? 'approved' : 'denied');
        expect(stored.decidedAt).toBe(results[0] ? T0 + 1 : T0 + 2);
      }
    });

    it('of redemptions racing on three instances, exactly one creates a grant', async () => {
      const stores = await engine.instances(3);
      for (let round = 0; round < 10; round++) {
        const { client, user, code } = await seedDeviceCode(stores[0]!);
        await stores[0]!.deviceCodes.decide(code.id, approve(user.id), T0 + 1);
        const attempts = stores.map((s) => {
          const grant = aGrant(client.id, user.id);
          return { store: s, grant, refresh: aRefreshToken(grant.id, client.id) };
        });
        const results = await Promise.all(attempts.map((t) => t.store.deviceCodes.redeem(code.id, t.grant, t.refresh)));
        expect(results.filter(Boolean)).toHaveLength(1);
        const winner = attempts[results.indexOf(true)]!;
        expect((await stores[1]!.deviceCodes.getById(code.id))!.grantId).toBe(winner.grant.id);
        expect(await stores[2]!.grants.listByUser(user.id)).toEqual([winner.grant]);
        for (const t of attempts.filter((t) => t !== winner)) expect(await stores[0]!.refreshTokens.getByHash(t.refresh.tokenHash)).toBeUndefined();
      }
    });

    it('two instances drawing the same user code at once: one gets it', async () => {
      const [a, b] = await engine.instances(2);
      const { client } = await seed(a!);
      const results = await Promise.all([
        a!.deviceCodes.insert(aDeviceCode(client.id, { userCode: 'QRSTVWXZ' }), T0),
        b!.deviceCodes.insert(aDeviceCode(client.id, { userCode: 'QRSTVWXZ' }), T0),
      ]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    });

    it('two instances reusing the same expired user code at once: one gets it', async () => {
      const [a, b] = await engine.instances(2);
      const { client } = await seed(a!);
      const old = (await a!.deviceCodes.insert(aDeviceCode(client.id, { userCode: 'MNPQRSTV' }), T0))!;
      const now = old.expiresAt + 1;
      const fresh = () => aDeviceCode(client.id, { userCode: 'MNPQRSTV', createdAt: now, expiresAt: now + 600_000 });
      const results = await Promise.all([a!.deviceCodes.insert(fresh(), now), b!.deviceCodes.insert(fresh(), now)]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      expect((await b!.deviceCodes.getByUserCode('MNPQRSTV'))!.id).toBe(results.find((r) => r)!.id);
    });
  });
});
