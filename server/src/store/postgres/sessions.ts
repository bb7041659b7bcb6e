/** The `sessions` repository on PostgreSQL: browser sessions of the verification pages, looked up by the SHA-256 of their id. */
import type { SessionRecord, SessionRepository } from '../port/index.js';
import { type Db, changes, query, row, transaction } from './database.js';

interface SessionRow {
  id_hash: Buffer;
  user_id: string | null;
  username: string | null;
  data: Record<string, unknown>;
  created_at: number;
  authenticated_at: number | null;
  last_seen_at: number;
  expires_at: number;
}

function toSession(row: SessionRow): SessionRecord {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    username: row.username,
    data: row.data,
    createdAt: row.created_at,
    authenticatedAt: row.authenticated_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
  };
}

/** The parameters of INSERT, in column order. */
function toParams(s: SessionRecord): unknown[] {
  return [s.idHash, s.userId, s.username, JSON.stringify(s.data), s.createdAt, s.authenticatedAt, s.lastSeenAt, s.expiresAt];
}

const COLUMNS = 'id_hash, user_id, username, data, created_at, authenticated_at, last_seen_at, expires_at';
const INSERT = {
  name: 'sessions.insert',
  text: `INSERT INTO sessions (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
};
const BY_HASH = { name: 'sessions.byHash', text: `SELECT ${COLUMNS} FROM sessions WHERE id_hash = $1 AND expires_at > $2` };
// Everything but the id and created_at, as on SQLite.
const UPDATE = {
  name: 'sessions.update',
  text: `UPDATE sessions SET user_id = $2, username = $3, data = $4, authenticated_at = $5, last_seen_at = $6, expires_at = $7
    WHERE id_hash = $1`,
};
const DELETE = { name: 'sessions.delete', text: 'DELETE FROM sessions WHERE id_hash = $1' };
const PURGE = { name: 'sessions.purge', text: 'DELETE FROM sessions WHERE expires_at <= $1' };

export function createSessionRepository(db: Db): SessionRepository {
  return {
    async create(session) {
      await query(db, INSERT, toParams(session));
    },
    async get(idHash, now) {
      const r = await row<SessionRow>(db, BY_HASH, [idHash, now]);
      return r && toSession(r);
    },
    async update(session) {
      const s = session;
      await query(db, UPDATE, [s.idHash, s.userId, s.username, JSON.stringify(s.data), s.authenticatedAt, s.lastSeenAt, s.expiresAt]);
    },
    async replace(oldHash, next) {
      await transaction(db, async (tx) => {
        await query(tx, DELETE, [oldHash]);
        await query(tx, INSERT, toParams(next));
      });
    },
    async delete(idHash) {
      await query(db, DELETE, [idHash]);
    },
    async purgeExpired(now) {
      return changes(db, PURGE, [now]);
    },
  };
}
