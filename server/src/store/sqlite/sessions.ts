/** The `sessions` repository on SQLite: browser sessions of the verification pages. */
import type Database from 'better-sqlite3';
import type { SessionRecord, SessionRepository } from '../port/index.js';

interface SessionRow {
  id_hash: Buffer;
  user_id: string | null;
  username: string | null;
  data: string;
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
    data: JSON.parse(row.data) as Record<string, unknown>,
    createdAt: row.created_at,
    authenticatedAt: row.authenticated_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
  };
}

function toRow(s: SessionRecord) {
  return {
    idHash: s.idHash,
    userId: s.userId,
    username: s.username,
    data: JSON.stringify(s.data),
    createdAt: s.createdAt,
    authenticatedAt: s.authenticatedAt,
    lastSeenAt: s.lastSeenAt,
    expiresAt: s.expiresAt,
  };
}

export function createSessionRepository(db: Database.Database): SessionRepository {
  const insert = db.prepare(`INSERT INTO sessions (id_hash, user_id, username, data, created_at, authenticated_at, last_seen_at, expires_at)
    VALUES (@idHash, @userId, @username, @data, @createdAt, @authenticatedAt, @lastSeenAt, @expiresAt)`);
  const byHash = db.prepare<[Buffer, number], SessionRow>('SELECT * FROM sessions WHERE id_hash = ? AND expires_at > ?');
  const update = db.prepare(`UPDATE sessions SET user_id = @userId, username = @username, data = @data,
    authenticated_at = @authenticatedAt, last_seen_at = @lastSeenAt, expires_at = @expiresAt WHERE id_hash = @idHash`);
  const remove = db.prepare('DELETE FROM sessions WHERE id_hash = ?');
  const purge = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  const replaceTx = db.transaction((oldHash: Buffer, next: SessionRecord) => {
    remove.run(oldHash);
    insert.run(toRow(next));
  });
  return {
    async create(session) {
      insert.run(toRow(session));
    },
    async get(idHash, now) {
      const row = byHash.get(idHash, now);
      return row && toSession(row);
    },
    async update(session) {
      update.run(toRow(session));
    },
    async replace(oldHash, next) {
      replaceTx(oldHash, next);
    },
    async delete(idHash) {
      remove.run(idHash);
    },
    async purgeExpired(now) {
      return purge.run(now).changes;
    },
  };
}
