/** Authorization codes on SQLite (RFC 6749 §4.1): stored hashed, spent once together with the grant they create. */
import type Database from 'better-sqlite3';
import { words } from './codec.js';
import { insertGrant } from './grants.js';
import { insertRefreshToken } from './tokens.js';
import type { AuthorizationCodeRecord, AuthorizationCodeRepository, GrantRecord, RefreshTokenRecord } from '../port/index.js';

interface CodeRow {
  code_hash: Buffer;
  client_id: string;
  user_id: string;
  scopes: string;
  redirect_uri: string;
  redirect_uri_given: number;
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
    scopes: words.parse(row.scopes),
    redirectUri: row.redirect_uri,
    redirectUriGiven: row.redirect_uri_given === 1,
    codeChallenge: row.code_challenge,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    grantId: row.grant_id,
    dpopJkt: row.dpop_jkt,
  };
}

class AlreadyUsed extends Error {}

/** The code half of `store.authorization`: issue, read, spend once, purge. */
export function createAuthorizationCodeRepository(db: Database.Database): AuthorizationCodeRepository {
  const insertCode = db.prepare(`INSERT INTO authorization_codes (code_hash, client_id, user_id, scopes, redirect_uri,
      redirect_uri_given, code_challenge, created_at, expires_at, used_at, grant_id, dpop_jkt)
    VALUES (@codeHash, @clientId, @userId, @scopes, @redirectUri, @redirectUriGiven, @codeChallenge, @createdAt, @expiresAt, NULL, NULL, @dpopJkt)`);
  const codeByHash = db.prepare<[Buffer], CodeRow>('SELECT * FROM authorization_codes WHERE code_hash = ?');
  const spend = db.prepare(`UPDATE authorization_codes SET used_at = @now, grant_id = @grantId
    WHERE code_hash = @hash AND used_at IS NULL AND expires_at > @now`);
  const purgeCodes = db.prepare('DELETE FROM authorization_codes WHERE expires_at < ?');

  const redeemTx = db.transaction((hash: Buffer, grant: GrantRecord, refresh: RefreshTokenRecord | undefined, now: number) => {
    insertGrant(db, grant);
    // Throwing rolls the grant back: the code was spent by someone else first, or has expired.
    if (spend.run({ hash, now, grantId: grant.id }).changes !== 1) throw new AlreadyUsed();
    if (refresh) insertRefreshToken(db, refresh);
  });
  return {
    async insertCode(code) {
      insertCode.run({ ...code, scopes: words.format(code.scopes), redirectUriGiven: code.redirectUriGiven ? 1 : 0 });
    },
    async getCode(hash) {
      const row = codeByHash.get(hash);
      return row && toCode(row);
    },
    async redeemCode(hash, grant, refresh, now) {
      try {
        redeemTx(hash, grant, refresh, now);
        return true;
      } catch (err) {
        if (err instanceof AlreadyUsed) return false;
        throw err;
      }
    },
    async purgeExpiredCodes(before) {
      return purgeCodes.run(before).changes;
    },
  };
}
