// The `users` repository, the same cases on SQLite and PostgreSQL.
import { describe, expect, it } from 'vitest';
import { aUser, forEachEngine, T0 } from './engines.js';

forEachEngine((engine) => {
  describe('users', () => {
    it('keeps a user, found by id and by username', async () => {
      const store = await engine.open();
      const user = aUser({ role: 'admin' });
      await store.users.create(user);
      expect(await store.users.get(user.id)).toEqual(user);
      expect(await store.users.getByUsername(user.username)).toEqual(user);
      expect(await store.users.get('nobody')).toBeUndefined();
      expect(await store.users.getByUsername('nobody')).toBeUndefined();
    });

    it('matches usernames exactly', async () => {
      const store = await engine.open();
      const user = aUser({ username: 'Alice' });
      await store.users.create(user);
      expect(await store.users.getByUsername('alice')).toBeUndefined();
      expect((await store.users.getByUsername('Alice'))!.id).toBe(user.id);
    });

    it('refuses a second user with the same username or id', async () => {
      const store = await engine.open();
      const user = aUser();
      await store.users.create(user);
      await expect(store.users.create(aUser({ username: user.username }))).rejects.toThrow();
      await expect(store.users.create(aUser({ id: user.id }))).rejects.toThrow();
      expect(await store.users.list()).toEqual([user]);
    });

    it('refuses a role outside user, developer, admin', async () => {
      const store = await engine.open();
      await expect(store.users.create(aUser({ role: 'root' as never }))).rejects.toThrow();
    });

    it('lists users by creation time, then username', async () => {
      const store = await engine.open();
      const users = [aUser({ username: 'zed', createdAt: T0 }), aUser({ username: 'amy', createdAt: T0 + 5 }), aUser({ username: 'bob', createdAt: T0 })];
      for (const u of users) await store.users.create(u);
      expect((await store.users.list()).map((u) => u.username)).toEqual(['bob', 'zed', 'amy']);
    });
  });
});
