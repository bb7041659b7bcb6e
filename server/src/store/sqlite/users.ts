/** The `users` repository on SQLite: people who sign in to the verification pages. */
import type Database from 'better-sqlite3';
import type { UserRecord, UserRepository } from '../port/index.js';

interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  role: UserRecord['role'];
  created_at: number;
}

function toUser(row: UserRow): UserRecord {
  return { id: row.id, username: row.username, passwordHash: row.password_hash, role: row.role, createdAt: row.created_at };
}

export function createUserRepository(db: Database.Database): UserRepository {
  const insert = db.prepare('INSERT INTO users (id, username, password_hash, role, created_at) VALUES (@id, @username, @passwordHash, @role, @createdAt)');
  const byId = db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?');
  const byName = db.prepare<[string], UserRow>('SELECT * FROM users WHERE username = ?');
  const all = db.prepare<[], UserRow>('SELECT * FROM users ORDER BY created_at, username');
  return {
    async create(u) {
      insert.run(u);
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
  };
}
