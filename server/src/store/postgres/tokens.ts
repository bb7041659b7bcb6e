/** The `refreshTokens` and `accessTokens` repositories on PostgreSQL: refresh token rotation and revoked access tokens. */
import type { AccessTokenRepository, AuditOnWrite, RefreshTokenRecord, RefreshTokenRepository } from '../port/index.js';
import { insertAuditEvent } from './audit.js';
import { GRANT_COLUMNS, toGrant, type GrantRow } from './grants.js';
import { changes, query, row, transaction, type Db, type Queryable } from './database.js';

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

// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
const COLUMNS = 'token_hash, grant_id, client_id, created_at, expires_at, used_at';

const INSERT_REFRESH_TOKEN = {
  name: 'refresh_tokens.insert',
  text: `INSERT INTO refresh_tokens (token_hash, grant_id, client_id, created_at, expires_at, used_at)
    VALUES ($1, $2, $3, $4, $5, $6)`,
};

/** Insert a refresh token; for use inside another repository's transaction. */
export async function insertRefreshToken(on: Queryable, t: RefreshTokenRecord): Promise<void> {
  await query(on, INSERT_REFRESH_TOKEN, [t.tokenHash, t.grantId, t.clientId, t.createdAt, t.expiresAt, t.usedAt]);
}

// Rotation first locks the family's grant row (touching its last use), only while it is not
// revoked: rotations of one family, and a revocation of it, take turns on that row, always in
// the order grant then token (as grants.revoke does), so they never deadlock.
const TOUCH_LIVE_GRANT = {
  name: 'refresh_tokens.touch_grant',
  text: `UPDATE grants SET last_used_at = $2
    WHERE id = (SELECT grant_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL`,
};
// Conditional on the token being unused: of two rotations of one token, the second finds it spent.
const MARK_USED = { name: 'refresh_tokens.mark_used', text: 'UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL' };
const BY_HASH = { name: 'refresh_tokens.by_hash', text: `SELECT ${COLUMNS} FROM refresh_tokens WHERE token_hash = $1` };
const WITH_GRANT = {
  name: 'refresh_tokens.with_grant',
  text: `SELECT r.token_hash AS t_hash, r.client_id AS t_client_id, r.created_at AS t_created_at, r.expires_at AS t_expires_at,
      r.used_at AS t_used_at, ${GRANT_COLUMNS.split(', ').map((c) => `g.${c}`).join(', ')}, u.disabled_at AS account_disabled_at
    FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id LEFT JOIN users u ON u.id = g.user_id
    WHERE r.token_hash = $1`,
};

interface TokenWithGrantRow extends GrantRow {
  t_hash: Buffer;
  t_client_id: string;
  t_created_at: number;
  t_expires_at: number;
  t_used_at: number | null;
  account_disabled_at: number | null;
}

class AlreadyUsed extends Error {}

/**
 * Rotate a refresh token: mark `oldHash` used and insert `next`, all or nothing, only if the
 * old one was unused and its grant not revoked (false, nothing written, otherwise). Given a
 * transaction it nests as a savepoint, so that repository can commit its own rows with the
 * rotation (the MQTT bridge's stored refresh answer). `audit` (refresh.rotated) is written with it.
 */
export async function rotateRefreshToken(on: Queryable, oldHash: Buffer, next: RefreshTokenRecord, now: number, audit?: AuditOnWrite): Promise<boolean> {
  try {
    return await transaction(on, async (tx) => {
      if ((await changes(tx, TOUCH_LIVE_GRANT, [oldHash, now])) !== 1) return false;
      // Spent already (reuse, or another instance rotated it first): throwing undoes the touch.
      if ((await changes(tx, MARK_USED, [oldHash, now])) !== 1) throw new AlreadyUsed();
      await insertRefreshToken(tx, next);
      await insertAuditEvent(tx, audit);
      return true;
    });
  } catch (err) {
    if (err instanceof AlreadyUsed) return false;
    throw err;
  }
}

export function createRefreshTokenRepository(db: Db): RefreshTokenRepository {
  return {
    async getByHash(hash) {
      const r = await row<RefreshTokenRow>(db, BY_HASH, [hash]);
      return r && toRefreshToken(r);
    },
    async getWithGrant(hash) {
      const r = await row<TokenWithGrantRow>(db, WITH_GRANT, [hash]);
      if (!r) return undefined;
      const token = { tokenHash: r.t_hash, grantId: r.id, clientId: r.t_client_id, createdAt: r.t_created_at, expiresAt: r.t_expires_at, usedAt: r.t_used_at };
      return { token, grant: toGrant(r), accountDisabled: r.account_disabled_at !== null };
    },
    async rotate(oldHash, next, now, audit) {
      return rotateRefreshToken(db, oldHash, next, now, audit);
    },
  };
}

const REVOKE_ACCESS = {
  name: 'revoked_access_tokens.insert',
  text: 'INSERT INTO revoked_access_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING',
};
const IS_REVOKED = { name: 'revoked_access_tokens.find', text: 'SELECT 1 FROM revoked_access_tokens WHERE jti = $1' };

export function createAccessTokenRepository(db: Db): AccessTokenRepository {
  return {
    async revoke(jti, expiresAt) {
      await query(db, REVOKE_ACCESS, [jti, expiresAt]);
    },
    async isRevoked(jti) {
      return (await row(db, IS_REVOKED, [jti])) !== undefined;
    },
  };
}
