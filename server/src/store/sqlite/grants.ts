import type Database from 'better-sqlite3';
import { words } from './codec.js';
import type {
  AccessTokenRepository,
  GrantRecord,
  GrantRepository,
  RefreshTokenRecord,
  RefreshTokenRepository,
} from '../port/index.js';

interface GrantRow {
  id: string;
  client_id: string;
  user_id: string | null;
  scopes: string;
  origin: string;
  device_name: string | null;
  request_ip: string | null;
  request_user_agent: string | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

function toGrant(row: GrantRow): GrantRecord {
  return {
    id: row.id,
    clientId: row.client_id,
    userId: row.user_id,
    scopes: words.parse(row.scopes),
    origin: row.origin,
    deviceName: row.device_name,
    requestIp: row.request_ip,
    requestUserAgent: row.request_user_agent,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

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

const statements = new WeakMap<Database.Database, { grant: Database.Statement; refresh: Database.Statement }>();

function inserts(db: Database.Database) {
  let s = statements.get(db);
  if (!s) {
    s = {
      grant: db.prepare(`INSERT INTO grants (id, client_id, user_id, scopes, origin, device_name, request_ip, request_user_agent, created_at, last_used_at, revoked_at)
        VALUES (@id, @clientId, @userId, @scopes, @origin, @deviceName, @requestIp, @requestUserAgent, @createdAt, @lastUsedAt, @revokedAt)`),
      refresh: db.prepare(`INSERT INTO refresh_tokens (token_hash, grant_id, client_id, created_at, expires_at, used_at)
        VALUES (@tokenHash, @grantId, @clientId, @createdAt, @expiresAt, @usedAt)`),
    };
    statements.set(db, s);
  }
  return s;
}

/** Insert a grant; for use inside another repository's transaction. */
export function insertGrant(db: Database.Database, grant: GrantRecord): void {
  inserts(db).grant.run({ ...grant, scopes: words.format(grant.scopes) });
}

/** Insert a refresh token; for use inside another repository's transaction. */
export function insertRefreshToken(db: Database.Database, token: RefreshTokenRecord): void {
  inserts(db).refresh.run(token);
}

export function createGrantRepository(db: Database.Database): GrantRepository {
  const byId = db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE id = ?');
  const byUser = db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC');
  const revoke = db.prepare('UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const dropTokens = db.prepare('DELETE FROM refresh_tokens WHERE grant_id = ?');
  const rename = db.prepare('UPDATE grants SET device_name = ? WHERE id = ?');
  const revokeTx = db.transaction((id: string, now: number) => {
    const changed = revoke.run(now, id).changes === 1;
    dropTokens.run(id);
    return changed;
  });
  return {
    async get(id) {
      const row = byId.get(id);
      return row && toGrant(row);
    },
    async listByUser(userId) {
      return byUser.all(userId).map(toGrant);
    },
    async revoke(id, now) {
      return revokeTx(id, now);
    },
    async rename(id, deviceName) {
      rename.run(deviceName, id);
    },
  };
}

/**
 * Rotate a refresh token: mark `oldHash` used and insert `next`, all or nothing, only if the
 * old one was unused and its grant not revoked (false, nothing written, otherwise). Called
 * inside another repository's transaction it nests as a savepoint, so that repository can
 * commit its own rows with the rotation (the MQTT bridge's stored refresh answer).
 */
export function rotateRefreshTokenTransaction(db: Database.Database) {
  const markUsed = db.prepare(`UPDATE refresh_tokens SET used_at = @now
    WHERE token_hash = @hash AND used_at IS NULL
      AND EXISTS (SELECT 1 FROM grants WHERE grants.id = refresh_tokens.grant_id AND grants.revoked_at IS NULL)`);
  const touchGrant = db.prepare('UPDATE grants SET last_used_at = ? WHERE id = ?');
  return db.transaction((oldHash: Buffer, next: RefreshTokenRecord, now: number): boolean => {
    if (markUsed.run({ hash: oldHash, now }).changes !== 1) return false;
    insertRefreshToken(db, next);
    touchGrant.run(now, next.grantId);
    return true;
  });
}

export function createRefreshTokenRepository(db: Database.Database): RefreshTokenRepository {
  const byHash = db.prepare<[Buffer], RefreshTokenRow>('SELECT * FROM refresh_tokens WHERE token_hash = ?');
  const rotateTx = rotateRefreshTokenTransaction(db);
  return {
    async getByHash(hash) {
      const row = byHash.get(hash);
      return row && toRefreshToken(row);
    },
    async rotate(oldHash, next, now) {
      return rotateTx(oldHash, next, now);
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
