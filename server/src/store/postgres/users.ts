/** The `users` repository on PostgreSQL: people who sign in to the verification pages. */
import type { UserRecord, UserRepository } from '../port/index.js';
import { query, row, rows, type Db } from './database.js';

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

// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
const COLUMNS = 'id, username, password_hash, role, created_at';

const INSERT = { name: 'users.insert', text: 'INSERT INTO users (id, username, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)' };
const BY_ID = { name: 'users.by_id', text: `SELECT ${COLUMNS} FROM users WHERE id = $1` };
const BY_NAME = { name: 'users.by_name', text: `SELECT ${COLUMNS} FROM users WHERE username = $1` };
const ALL = { name: 'users.all', text: `SELECT ${COLUMNS} FROM users ORDER BY created_at, username` };

export function createUserRepository(db: Db): UserRepository {
  return {
    async create(u) {
      await query(db, INSERT, [u.id, u.username, u.passwordHash, u.role, u.createdAt]);
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
  };
}
