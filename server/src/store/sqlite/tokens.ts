/** The `refreshTokens` and `accessTokens` repositories on SQLite: refresh token rotation and revoked access tokens. */
import type Database from 'better-sqlite3';
import type { AccessTokenRepository, AuditOnWrite, RefreshTokenRecord, RefreshTokenRepository } from '../port/index.js';
import { insertAuditEvent } from './audit.js';
import { toGrant, type GrantRow } from './grants.js';
import { sharedStatement } from './statements.js';
import type { TurnBatch } from './turn-batch.js';

interface RefreshTokenRow {
  token_hash: Buffer;
  grant_id: string;
  client_id: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

function toRefreshToken(row: RefreshTokenRow): RefreshTokenRecord {
  return {
    tokenHash: row.token_hash,
    grantId: row.grant_id,
    clientId: row.client_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };
}

const INSERT_REFRESH_TOKEN = `INSERT INTO refresh_tokens (token_hash, grant_id, client_id, created_at, expires_at, used_at)
  VALUES (@tokenHash, @grantId, @clientId, @createdAt, @expiresAt, @usedAt)`;

/** Insert a refresh token; for use inside another repository's transaction. */
export function insertRefreshToken(db: Database.Database, token: RefreshTokenRecord): void {
  sharedStatement(db, INSERT_REFRESH_TOKEN).run(token);
}

/**
 * Rotate a refresh token: mark `oldHash` used and insert `next`, all or nothing, only if the
 * old one was unused and its grant not revoked (false, nothing written, otherwise), with
 * `audit` (refresh.rotated). Called
 * inside another repository's transaction it nests as a savepoint, so that repository can
 * commit its own rows with the rotation (the MQTT bridge's stored refresh answer).
 */
export function rotateRefreshTokenTransaction(db: Database.Database) {
  const markUsed = db.prepare(`UPDATE refresh_tokens SET used_at = @now
    WHERE token_hash = @hash AND used_at IS NULL
      AND EXISTS (SELECT 1 FROM grants WHERE grants.id = refresh_tokens.grant_id AND grants.revoked_at IS NULL)`);
  const touchGrant = db.prepare('UPDATE grants SET last_used_at = ? WHERE id = ?');
  return db.transaction((oldHash: Buffer, next: RefreshTokenRecord, now: number, audit?: AuditOnWrite): boolean => {
    if (markUsed.run({ hash: oldHash, now }).changes !== 1) return false;
    insertRefreshToken(db, next);
    touchGrant.run(now, next.grantId);
    insertAuditEvent(db, audit);
    return true;
  });
}

export function createRefreshTokenRepository(db: Database.Database, turn: TurnBatch): RefreshTokenRepository {
  const byHash = db.prepare<[Buffer], RefreshTokenRow>('SELECT * FROM refresh_tokens WHERE token_hash = ?');
  // expand(): each row's columns under their table's name, so each table's own mapper reads them.
  const withGrant = db
    .prepare<[Buffer], { refresh_tokens: RefreshTokenRow; grants: GrantRow; users: { disabled_at: number | null } }>(`SELECT r.*, g.*, u.disabled_at
      FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id LEFT JOIN users u ON u.id = g.user_id
      WHERE r.token_hash = ?`)
    .expand();
  const rotateTx = rotateRefreshTokenTransaction(db);
  return {
    async getByHash(hash) {
      const row = byHash.get(hash);
      return row && toRefreshToken(row);
    },
    async getWithGrant(hash) {
      const row = withGrant.get(hash);
      return row && { token: toRefreshToken(row.refresh_tokens), grant: toGrant(row.grants), accountDisabled: row.users.disabled_at !== null };
    },
    async rotate(oldHash, next, now, audit) {
      return turn.run(() => rotateTx(oldHash, next, now, audit));
    },
  };
}

export function createAccessTokenRepository(db: Database.Database): AccessTokenRepository {
  const insert = db.prepare('INSERT OR IGNORE INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)');
  const find = db.prepare<[string], { jti: string }>('SELECT jti FROM revoked_access_tokens WHERE jti = ?');
  return {
    async revoke(jti, expiresAt) {
      insert.run(jti, expiresAt);
    },
    async isRevoked(jti) {
      return find.get(jti) !== undefined;
    },
  };
}
