/** The `users` repository on PostgreSQL: people who sign in to the verification pages. */
import type { UserChanges, UserRecord, UserRepository } from '../port/index.js';
import { changes, query, row, rows, transaction, type Db, type Sql } from './database.js';

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

// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
const COLUMNS = 'id, username, password_hash, role, created_at, disabled_at';

const INSERT = { name: 'users.insert', text: 'INSERT INTO users (id, username, password_hash, role, created_at, disabled_at) VALUES ($1, $2, $3, $4, $5, $6)' };
const BY_ID = { name: 'users.by_id', text: `SELECT ${COLUMNS} FROM users WHERE id = $1` };
const BY_NAME = { name: 'users.by_name', text: `SELECT ${COLUMNS} FROM users WHERE username = $1` };
const ALL = { name: 'users.all', text: `SELECT ${COLUMNS} FROM users ORDER BY created_at, username` };
// The columns `update` may write, by the name of the change (one statement each: only what was given is set).
const SET_COLUMN = {
  passwordHash: { name: 'users.set_password_hash', text: 'UPDATE users SET password_hash = $2 WHERE id = $1' },
  role: { name: 'users.set_role', text: 'UPDATE users SET role = $2 WHERE id = $1' },
  disabledAt: { name: 'users.set_disabled_at', text: 'UPDATE users SET disabled_at = $2 WHERE id = $1' },
} as const satisfies Record<keyof UserChanges, Sql>;
const LOCK = { name: 'users.lock', text: 'SELECT id FROM users WHERE id = $1 FOR UPDATE' };
const END_SESSIONS = { name: 'users.end_sessions', text: 'DELETE FROM sessions WHERE user_id = $1' };
const DISOWN = { name: 'users.disown', text: 'UPDATE clients SET owner_user_id = NULL WHERE owner_user_id = $1' };
const DELETE = { name: 'users.delete', text: 'DELETE FROM users WHERE id = $1' };

export function createUserRepository(db: Db): UserRepository {
  return {
    async create(u) {
      await query(db, INSERT, [u.id, u.username, u.passwordHash, u.role, u.createdAt, u.disabledAt ?? null]);
    },
    async get(id) {
      const r = await row<UserRow>(db, BY_ID, [id]);
      return r && toUser(r);
    },
    async getByUsername(username) {
      const r = await row<UserRow>(db, BY_NAME, [username]);
      return r && toUser(r);
    },
    async list() {
      return (await rows<UserRow>(db, ALL)).map(toUser);
    },
    async update(id, userChanges, options = {}) {
      return transaction(db, async (tx) => {
        if (!(await row(tx, LOCK, [id]))) return false;
        for (const change of Object.keys(SET_COLUMN) as Array<keyof UserChanges>) {
          // An explicit null (enable) is a change too; only undefined is left alone.
          if (userChanges[change] !== undefined) await query(tx, SET_COLUMN[change], [id, userChanges[change]]);
        }
        if (options.endSessions) await query(tx, END_SESSIONS, [id]);
        return true;
      });
    },
    async delete(id) {
      return transaction(db, async (tx) => {
        // Sessions and clients name the user without a foreign key (an identity provider's users live elsewhere).
        await query(tx, END_SESSIONS, [id]);
        await query(tx, DISOWN, [id]);
        // Grants (with their refresh tokens), device and authorization codes, consents and initial access tokens cascade.
        return (await changes(tx, DELETE, [id])) === 1;
      });
    },
  };
}
