/** The `sessions` repository on both engines: browser sessions by the hash of their id, expiry, rotation. */
import { describe, expect, it } from 'vitest';
import type { SessionRecord } from '../../server/src/store/port/index.js';
import { T0, forEachEngine, hash } from './engines.js';

const HOUR = 3_600_000;

function aSession(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    idHash: hash(),
    userId: null,
    username: null,
    data: {},
    createdAt: T0,
    authenticatedAt: null,
    lastSeenAt: T0,
    expiresAt: T0 + HOUR,
    ...overrides,
  };
}

forEachEngine((engine) => {
  describe('sessions', () => {
    it('keeps a session as created, its JSON state included', async () => {
      const store = await engine.open();
      const s = aSession({
        userId: 'user-1',
        username: 'alice',
        data: { pendingUserCode: 'WDJBMJHT', outcome: { kind: 'approved', scopes: ['valuate:read'] }, n: 3, flag: true, none: null },
        authenticatedAt: T0 + 5,
      });
      await store.sessions.create(s);
      expect(await store.sessions.get(s.idHash, T0)).toEqual(s);
      expect(await store.sessions.get(hash(), T0)).toBeUndefined();
    });

    it('answers a session only before it expires', async () => {
      const store = await engine.open();
      const s = aSession();
      await store.sessions.create(s);
      expect(await store.sessions.get(s.idHash, s.expiresAt - 1)).toBeDefined();
      expect(await store.sessions.get(s.idHash, s.expiresAt)).toBeUndefined();
    });

    it('updates everything but the id and creation time', async () => {
      const store = await engine.open();
      const s = aSession();
      await store.sessions.create(s);
      const next: SessionRecord = {
        ...s,
        userId: 'user-2',
        username: 'bob',
        data: { outcome: 'denied' },
        createdAt: T0 + 999,
        authenticatedAt: T0 + 10,
        lastSeenAt: T0 + 20,
        expiresAt: T0 + 2 * HOUR,
      };
      await store.sessions.update(next);
      expect(await store.sessions.get(s.idHash, T0 + HOUR)).toEqual({ ...next, createdAt: T0 });
    });

    it('replaces a session by one with a new id (rotation at sign-in)', async () => {
      const store = await engine.open();
      const old = aSession({ data: { pendingUserCode: 'WDJBMJHT' } });
      await store.sessions.create(old);
      const next = aSession({ userId: 'user-1', username: 'alice', authenticatedAt: T0 + 1, data: old.data });
      await store.sessions.replace(old.idHash, next);
      expect(await store.sessions.get(old.idHash, T0)).toBeUndefined();
      expect(await store.sessions.get(next.idHash, T0)).toEqual(next);
    });

    it('keeps the old session when the replacement cannot be stored', async () => {
      const store = await engine.open();
      const old = aSession();
      const other = aSession();
      await store.sessions.create(old);
      await store.sessions.create(other);
      // The new id is taken: the insert fails and the delete is rolled back with it.
      await expect(store.sessions.replace(old.idHash, aSession({ idHash: other.idHash }))).rejects.toThrow();
      expect(await store.sessions.get(old.idHash, T0)).toEqual(old);
      expect(await store.sessions.get(other.idHash, T0)).toEqual(other);
    });

    it('deletes a session', async () => {
      const store = await engine.open();
      const s = aSession();
      await store.sessions.create(s);
      await store.sessions.delete(s.idHash);
      await store.sessions.delete(s.idHash);
      expect(await store.sessions.get(s.idHash, T0)).toBeUndefined();
    });

    it('purges the sessions expired at `now` and counts them', async () => {
      const store = await engine.open();
      const gone = aSession({ expiresAt: T0 + 100 });
      const edge = aSession({ expiresAt: T0 + 200 });
      const kept = aSession({ expiresAt: T0 + 201 });
      for (const s of [gone, edge, kept]) await store.sessions.create(s);
      expect(await store.sessions.purgeExpired(T0 + 200)).toBe(2);
      expect(await store.sessions.purgeExpired(T0 + 200)).toBe(0);
      expect(await store.sessions.get(kept.idHash, T0)).toEqual(kept);
      // Purged, not just hidden: a read at an earlier time finds nothing either.
      expect(await store.sessions.get(gone.idHash, T0)).toBeUndefined();
      expect(await store.sessions.get(edge.idHash, T0)).toBeUndefined();
    });

    it('is seen by every instance (a browser whose requests reach different instances)', async () => {
      const [a, b] = await engine.instances(2);
      const s = aSession({ data: { step: 1 } });
      await a!.sessions.create(s);
      expect(await b!.sessions.get(s.idHash, T0)).toEqual(s);
      const next = aSession({ userId: 'user-1', username: 'alice' });
      await b!.sessions.replace(s.idHash, next);
      expect(await a!.sessions.get(s.idHash, T0)).toBeUndefined();
      expect(await a!.sessions.get(next.idHash, T0)).toEqual(next);
    });
  });
});
