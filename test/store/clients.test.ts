// The `clients` repository, the same cases on SQLite and PostgreSQL.
import { describe, expect, it } from 'vitest';
import { aClient, aDeviceCode, aGrant, aRefreshToken, aUser, forEachEngine, T0 } from './engines.js';

forEachEngine((engine) => {
  describe('clients', () => {
    it('keeps every field of a client as given', async () => {
      const store = await engine.open();
      const client = aClient({
        type: 'confidential',
        secretHash: 'scrypt$abc',
        redirectUris: ['https://app.example/cb', 'http://127.0.0.1/cb'],
        deviceCodeTtl: 900,
        devicePollInterval: 7,
        accessTokenAlg: 'RS256',
        ownerUserId: 'someone',
        requireDpop: true,
      });
      await store.clients.create(client);
      expect(await store.clients.get(client.id)).toEqual(client);
    });

    it('reads defaults back as the port types them (empty lists, nulls, requireDpop false)', async () => {
      const store = await engine.open();
      const client = aClient({ scopes: [], redirectUris: [] });
      await store.clients.create({ ...client, requireDpop: undefined });
      expect(await store.clients.get(client.id)).toEqual({ ...client, requireDpop: false });
    });

    it('answers undefined for an unknown id', async () => {
      const store = await engine.open();
      expect(await store.clients.get('nobody')).toBeUndefined();
    });

    it('refuses a second client with the same id', async () => {
      const store = await engine.open();
      const client = aClient();
      await store.clients.create(client);
      await expect(store.clients.create({ ...client, name: 'other' })).rejects.toThrow();
      expect((await store.clients.get(client.id))!.name).toBe(client.name);
    });

    it('refuses a confidential client without a secret hash, and a public one with it', async () => {
      const store = await engine.open();
      await expect(store.clients.create(aClient({ type: 'confidential', secretHash: null }))).rejects.toThrow();
      await expect(store.clients.create(aClient({ type: 'public', secretHash: 'scrypt$x' }))).rejects.toThrow();
      expect(await store.clients.list()).toEqual([]);
    });

    it('lists clients by creation time, then id; and those a person owns', async () => {
      const store = await engine.open();
      const late = aClient({ id: 'a-late', createdAt: T0 + 10, ownerUserId: 'u1' });
      const b = aClient({ id: 'b-early', createdAt: T0, ownerUserId: 'u1' });
      const a = aClient({ id: 'a-early', createdAt: T0 });
      for (const c of [late, b, a]) await store.clients.create(c);
      expect((await store.clients.list()).map((c) => c.id)).toEqual(['a-early', 'b-early', 'a-late']);
      expect((await store.clients.listByOwner('u1')).map((c) => c.id)).toEqual(['b-early', 'a-late']);
      expect(await store.clients.listByOwner('u2')).toEqual([]);
    });

    it('replaces the secret hash of a confidential client only', async () => {
      const store = await engine.open();
      const confidential = aClient({ type: 'confidential', secretHash: 'scrypt$old' });
      const pub = aClient();
      await store.clients.create(confidential);
      await store.clients.create(pub);
      expect(await store.clients.updateSecretHash(confidential.id, 'scrypt$new')).toBe(true);
      expect((await store.clients.get(confidential.id))!.secretHash).toBe('scrypt$new');
      expect(await store.clients.updateSecretHash(pub.id, 'scrypt$new')).toBe(false);
      expect((await store.clients.get(pub.id))!.secretHash).toBeNull();
      expect(await store.clients.updateSecretHash('nobody', 'scrypt$new')).toBe(false);
    });

    it('answers each read with the client as it is now, however it was changed since the last read', async () => {
      const [store, otherProcess] = await engine.instances(2);
      const client = aClient({ type: 'confidential', secretHash: 'scrypt$one', ownerUserId: null });
      const owner = aUser();
      await store!.users.create(owner);
      await store!.clients.create({ ...client, ownerUserId: owner.id });
      expect((await store!.clients.get(client.id))?.ownerUserId).toBe(owner.id);

      // Through the same store: an update, a new secret, the owner's deletion.
      await store!.clients.update({ ...client, ownerUserId: owner.id, name: 'Renamed', scopes: ['valuate:write'] });
      expect(await store!.clients.get(client.id)).toMatchObject({ name: 'Renamed', scopes: ['valuate:write'] });
      await store!.clients.updateSecretHash(client.id, 'scrypt$two');
      expect((await store!.clients.get(client.id))?.secretHash).toBe('scrypt$two');
      await store!.users.delete(owner.id);
      expect((await store!.clients.get(client.id))?.ownerUserId).toBeNull();

      // Through another connection on the same database (the CLI, another instance).
      await otherProcess!.clients.updateSecretHash(client.id, 'scrypt$three');
      expect((await store!.clients.get(client.id))?.secretHash).toBe('scrypt$three');
      await otherProcess!.clients.delete(client.id);
      expect(await store!.clients.get(client.id)).toBeUndefined();
      await otherProcess!.clients.create({ ...client, name: 'Back again' });
      expect((await store!.clients.get(client.id))?.name).toBe('Back again');
    });

    it('deletes a client with its grants, refresh tokens, device codes and consents', async () => {
      const store = await engine.open();
      const client = aClient();
      const user = aUser();
      await store.clients.create(client);
      await store.users.create(user);
      const code = (await store.deviceCodes.insert(aDeviceCode(client.id), T0))!;
      await store.deviceCodes.decide(code.id, { status: 'approved', userId: user.id, grantedScopes: ['valuate:read'] }, T0 + 1);
      const grant = aGrant(client.id, user.id);
      const refresh = aRefreshToken(grant.id, client.id);
      expect(await store.deviceCodes.redeem(code.id, grant, refresh)).toBe(true);
      await store.authorization.saveConsent({ userId: user.id, clientId: client.id, requestedScopes: ['a'], grantedScopes: ['a'], updatedAt: T0 });

      expect(await store.clients.delete(client.id)).toBe(true);
      expect(await store.clients.get(client.id)).toBeUndefined();
      expect(await store.grants.get(grant.id)).toBeUndefined();
      expect(await store.refreshTokens.getByHash(refresh.tokenHash)).toBeUndefined();
      expect(await store.deviceCodes.getById(code.id)).toBeUndefined();
      expect(await store.authorization.getConsent(user.id, client.id)).toBeUndefined();
      expect(await store.users.get(user.id)).toEqual(user);
      expect(await store.clients.delete(client.id)).toBe(false);
    });
  });
});
