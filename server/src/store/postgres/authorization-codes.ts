/** Authorization codes on PostgreSQL (RFC 6749 §4.1): stored hashed, spent once together with the grant they create. */
import type { AuthorizationCodeRecord, AuthorizationCodeRepository } from '../port/index.js';
import { changes, query, row, transaction, type Db } from './database.js';
import { insertGrant } from './grants.js';
import { insertRefreshToken } from './tokens.js';

interface CodeRow {
  code_hash: Buffer;
  client_id: string;
  user_id: string;
  scopes: string[];
  redirect_uri: string;
  redirect_uri_given: boolean;
  code_challenge: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  grant_id: string | null;
  dpop_jkt: string | null;
}

function toCode(row: CodeRow): AuthorizationCodeRecord {
  return {
    codeHash: row.code_hash,
    clientId: row.client_id,
    userId: row.user_id,
    scopes: row.scopes,
    redirectUri: row.redirect_uri,
    redirectUriGiven: row.redirect_uri_given,
    codeChallenge: row.code_challenge,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    grantId: row.grant_id,
    dpopJkt: row.dpop_jkt,
  };
}

// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
const COLUMNS = 'code_hash, client_id, user_id, scopes, redirect_uri, redirect_uri_given, code_challenge, created_at, expires_at, used_at, grant_id, dpop_jkt';

const INSERT_CODE = {
  name: 'authorization_codes.insert',
  text: `INSERT INTO authorization_codes (code_hash, client_id, user_id, scopes, redirect_uri,
      redirect_uri_given, code_challenge, created_at, expires_at, used_at, grant_id, dpop_jkt)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL, $10)`,
};
const BY_HASH = { name: 'authorization_codes.by_hash', text: `SELECT ${COLUMNS} FROM authorization_codes WHERE code_hash = $1` };
// Conditional on unused and unexpired: of two redemptions racing, the second waits on the row
// lock, finds it used and updates nothing.
const SPEND = {
  name: 'authorization_codes.spend',
  text: `UPDATE authorization_codes SET used_at = $2, grant_id = $3
    WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2`,
};
const PURGE = { name: 'authorization_codes.purge', text: 'DELETE FROM authorization_codes WHERE expires_at < $1' };

class AlreadyUsed extends Error {}

/** The code half of `store.authorization`: issue, read, spend once, purge. */
export function createAuthorizationCodeRepository(db: Db): AuthorizationCodeRepository {
  return {
    async insertCode(c) {
      await query(db, INSERT_CODE, [
        c.codeHash, c.clientId, c.userId, c.scopes, c.redirectUri, c.redirectUriGiven, c.codeChallenge, c.createdAt, c.expiresAt, c.dpopJkt,
      ]);
    },
    async getCode(hash) {
      const r = await row<CodeRow>(db, BY_HASH, [hash]);
      return r && toCode(r);
    },
    async redeemCode(hash, grant, refresh, now) {
      try {
        return await transaction(db, async (tx) => {
          await insertGrant(tx, grant);
          // Throwing rolls the grant back: the code was spent by someone else first, or has expired.
          if ((await changes(tx, SPEND, [hash, now, grant.id])) !== 1) throw new AlreadyUsed();
          if (refresh) await insertRefreshToken(tx, refresh);
          return true;
        });
      } catch (err) {
        if (err instanceof AlreadyUsed) return false;
        throw err;
      }
    },
    async purgeExpiredCodes(before) {
      return changes(db, PURGE, [before]);
    },
  };
}
