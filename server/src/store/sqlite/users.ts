/** The `users` repository on SQLite: people who sign in to the verification pages. */
import type Database from 'better-sqlite3';
import type { UserChanges, UserRecord, UserRepository } from '../port/index.js';
import { CLIENT_CACHE } from './clients.js';
import { forgetCached } from './read-cache.js';

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  role: UserRecord['role'];
  created_at: number;
  disabled_at: number | null;
}

function toUser(row: UserRow): UserRecord {
  return { id: row.id, username: row.username, passwordHash: row.password_hash, role: row.role, createdAt: row.created_at, disabledAt: row.disabled_at };
}

// The columns `update` may write, by the name of the change.
const CHANGED_COLUMNS = { passwordHash: 'password_hash', role: 'role', disabledAt: 'disabled_at' } as const satisfies Record<keyof UserChanges, string>;

export function createUserRepository(db: Database.Database): UserRepository {
  const insert = db.prepare(
    'INSERT INTO users (id, username, password_hash, role, created_at, disabled_at) VALUES (@id, @username, @passwordHash, @role, @createdAt, @disabledAt)',
  );
  const byId = db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?');
  const byName = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const all = db.prepare<[], UserRow>('SELECT * FROM users ORDER BY created_at, username');
  // One statement per column: `update` sets only what it was given, and each is prepared once.
  const setColumn = Object.fromEntries(
    Object.entries(CHANGED_COLUMNS).map(([change, column]) => [change, db.prepare(`UPDATE users SET ${column} = ? WHERE id = ?`)]),
  ) as Record<keyof UserChanges, Database.Statement>;
  const exists = db.prepare<[string], { id: string }>('SELECT id FROM users WHERE id = ?');
  const endSessions = db.prepare('DELETE FROM sessions WHERE user_id = ?');
  const disown = db.prepare('UPDATE clients SET owner_user_id = NULL WHERE owner_user_id = ?');
  const remove = db.prepare('DELETE FROM users WHERE id = ?');

  const updateTx = db.transaction((id: string, changes: UserChanges, options: { endSessions?: boolean }) => {
    if (!exists.get(id)) return false;
    for (const change of Object.keys(CHANGED_COLUMNS) as Array<keyof UserChanges>) {
      if (changes[change] !== undefined) setColumn[change].run(changes[change], id);
    }
    if (options.endSessions) endSessions.run(id);
    return true;
  });
  const deleteTx = db.transaction((id: string) => {
    // Sessions and clients name the user without a foreign key (an identity provider's users live elsewhere).
    endSessions.run(id);
    disown.run(id);
    forgetCached(db, CLIENT_CACHE);
    // Grants (with their refresh tokens), device and authorization codes, consents and initial access tokens cascade.
    return remove.run(id).changes === 1;
  });

  return {
    async create(u) {
      insert.run({ ...u, disabledAt: u.disabledAt ?? null });
    },
    async get(id) {
      const row = byId.get(id);
      return row && toUser(row);
    },
    async getByUsername(username) {
      const row = byName.get(username);
      return row && toUser(row);
    },
    async list() {
      return all.all().map(toUser);
    },
    async update(id, changes, options = {}) {
      return updateTx(id, changes, options);
    },
    async delete(id) {
      return deleteTx(id);
    },
  };
}
