/** The `registration` repository on both engines: application profiles and RFC 7591 initial access tokens, whose uses are taken once each, across instances too. */
import { describe, expect, it } from 'vitest';
import type { ClientProfileRecord, InitialAccessTokenRecord } from '../../server/src/store/port/index.js';
import { T0, forEachEngine, hash, seed } from './engines.js';

const DAY = 86_400_000;

function anInitialAccessToken(overrides: Partial<InitialAccessTokenRecord> = {}): InitialAccessTokenRecord {
  return { tokenHash: hash(), ownerUserId: null, createdAt: T0, expiresAt: T0 + DAY, usesLeft: 1, ...overrides };
}

forEachEngine((engine) => {
  describe('client profiles', () => {
    it('keeps a profile and its RFC 7591 metadata as saved', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      const profile: ClientProfileRecord = {
        clientId: client.id,
        kind: 'tv',
        registeredVia: 'register',
        tokenEndpointAuthMethod: 'none',
        metadata: { client_uri: 'https://tv.example', contacts: ['ops@tv.example'], software_version: '1.2', nested: { a: [1, { b: null }] } },
      };
      await store.registration.saveProfile(profile);
      expect(await store.registration.getProfile(client.id)).toEqual(profile);
      expect(await store.registration.getProfile('no-such-client')).toBeUndefined();
    });

    it('replaces a saved profile as a whole', async () => {
      const store = await engine.open();
      const { client } = await seed(store);
      await store.registration.saveProfile({ clientId: client.id, kind: 'spa', registeredVia: 'apps', tokenEndpointAuthMethod: 'none', metadata: { a: 1 } });
      const next: ClientProfileRecord = { clientId: client.id, kind: 'server', registeredVia: 'register', tokenEndpointAuthMethod: 'client_secret_basic', metadata: {} };
      await store.registration.saveProfile(next);
      expect(await store.registration.getProfile(client.id)).toEqual(next);
    });
  });

  describe('initial access tokens', () => {
    it('finds a live token without taking a use', async () => {
      const store = await engine.open();
      const { user } = await seed(store);
      const token = anInitialAccessToken({ ownerUserId: user.id, usesLeft: 2 });
      await store.registration.insertInitialAccessToken(token);
      expect(await store.registration.findInitialAccessToken(token.tokenHash, T0)).toEqual(token);
      expect(await store.registration.findInitialAccessToken(token.tokenHash, T0)).toEqual(token);
      expect(await store.registration.findInitialAccessToken(hash(), T0)).toBeUndefined();
    });

    it('takes one use at a time until none is left', async () => {
      const store = await engine.open();
      const token = anInitialAccessToken({ usesLeft: 2 });
      await store.registration.insertInitialAccessToken(token);
      expect(await store.registration.useInitialAccessToken(token.tokenHash, T0)).toEqual({ ...token, usesLeft: 1 });
      expect(await store.registration.useInitialAccessToken(token.tokenHash, T0)).toEqual({ ...token, usesLeft: 0 });
      expect(await store.registration.useInitialAccessToken(token.tokenHash, T0)).toBeUndefined();
      expect(await store.registration.findInitialAccessToken(token.tokenHash, T0)).toBeUndefined();
      expect(await store.registration.useInitialAccessToken(hash(), T0)).toBeUndefined();
    });

    it('refuses an expired token, to find and to use', async () => {
      const store = await engine.open();
      const token = anInitialAccessToken({ usesLeft: 5 });
      await store.registration.insertInitialAccessToken(token);
      expect(await store.registration.findInitialAccessToken(token.tokenHash, token.expiresAt - 1)).toBeDefined();
      expect(await store.registration.findInitialAccessToken(token.tokenHash, token.expiresAt)).toBeUndefined();
      expect(await store.registration.useInitialAccessToken(token.tokenHash, token.expiresAt)).toBeUndefined();
      // The refused use took nothing.
      expect((await store.registration.findInitialAccessToken(token.tokenHash, T0))!.usesLeft).toBe(5);
    });

    it('gives each use once when instances take them at once', async () => {
      const stores = await engine.instances(3);
      const token = anInitialAccessToken({ usesLeft: 4 });
      await stores[0]!.registration.insertInitialAccessToken(token);
      const results = await Promise.all(stores.flatMap((s) => Array.from({ length: 4 }, () => s.registration.useInitialAccessToken(token.tokenHash, T0))));
      const taken = results.filter((r) => r !== undefined);
      expect(taken.map((r) => r.usesLeft).sort()).toEqual([0, 1, 2, 3]);
      expect(await stores[1]!.registration.findInitialAccessToken(token.tokenHash, T0)).toBeUndefined();
    });
  });
});
