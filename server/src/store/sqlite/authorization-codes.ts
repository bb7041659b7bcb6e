import type Database from 'better-sqlite3';
import { words } from './codec.js';
import { insertGrant } from './grants.js';
import { insertRefreshToken } from './tokens.js';
import type {
  AuthorizationCodeRecord,
  AuthorizationRepository,
  ConsentRecord,
  GrantRecord,
  RefreshTokenRecord,
} from '../port/index.js';

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
  };
}

interface ConsentRow {
  user_id: string;
  client_id: string;
  requested_scopes: string;
  granted_scopes: string;
  updated_at: number;
}

class AlreadyUsed extends Error {}

/** Authorization codes, remembered consent and the grants behind client credentials tokens. */
export function createAuthorizationRepository(db: Database.Database): AuthorizationRepository {
  const insertCode = db.prepare(`INSERT INTO authorization_codes (code_hash, client_id, user_id, scopes, redirect_uri,
      redirect_uri_given, code_challenge, created_at, expires_at, used_at, grant_id)
    VALUES (@codeHash, @clientId, @userId, @scopes, @redirectUri, @redirectUriGiven, @codeChallenge, @createdAt, @expiresAt, NULL, NULL)`);
  const codeByHash = db.prepare<[Buffer], CodeRow>('SELECT * FROM authorization_codes WHERE code_hash = ?');
  const spend = db.prepare(`UPDATE authorization_codes SET used_at = @now, grant_id = @grantId
    WHERE code_hash = @hash AND used_at IS NULL AND expires_at > @now`);
  const consentByKey = db.prepare<[string, string], ConsentRow>('SELECT * FROM consents WHERE user_id = ? AND client_id = ?');
  const upsertConsent = db.prepare(`INSERT INTO consents (user_id, client_id, requested_scopes, granted_scopes, updated_at)
    VALUES (@userId, @clientId, @requestedScopes, @grantedScopes, @updatedAt)
    ON CONFLICT (user_id, client_id) DO UPDATE SET requested_scopes = excluded.requested_scopes,
      granted_scopes = excluded.granted_scopes, updated_at = excluded.updated_at`);
  const activeForUser = db.prepare<[string, string], { id: string }>(
    'SELECT id FROM grants WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL LIMIT 1',
  );
  const activeForClient = db.prepare<[string], { id: string }>('SELECT id FROM grants WHERE client_id = ? AND revoked_at IS NULL');
  const purgeMachineGrants = db.prepare(
    "DELETE FROM grants WHERE client_id = ? AND user_id IS NULL AND origin = 'client_credentials' AND created_at < ?",
  );
  const purgeCodes = db.prepare('DELETE FROM authorization_codes WHERE expires_at < ?');

  const redeemTx = db.transaction((hash: Buffer, grant: GrantRecord, refresh: RefreshTokenRecord | undefined, now: number) => {
    insertGrant(db, grant);
    // Throwing rolls the grant back: the code was spent by someone else first, or has expired.
    if (spend.run({ hash, now, grantId: grant.id }).changes !== 1) throw new AlreadyUsed();
    if (refresh) insertRefreshToken(db, refresh);
  });
  const machineGrantTx = db.transaction((grant: GrantRecord, purgeBefore: number) => {
    purgeMachineGrants.run(grant.clientId, purgeBefore);
    insertGrant(db, grant);
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
    async getConsent(userId, clientId) {
      const row = consentByKey.get(userId, clientId);
      return (
        row && {
          userId: row.user_id,
          clientId: row.client_id,
          requestedScopes: words.parse(row.requested_scopes),
          grantedScopes: words.parse(row.granted_scopes),
          updatedAt: row.updated_at,
        }
      );
    },
    async saveConsent(c: ConsentRecord) {
      upsertConsent.run({
        ...c,
        requestedScopes: words.format(c.requestedScopes),
        grantedScopes: words.format(c.grantedScopes),
      });
    },
    async hasActiveGrant(userId, clientId) {
      return activeForUser.get(userId, clientId) !== undefined;
    },
    async activeGrantIds(clientId) {
      return activeForClient.all(clientId).map((r) => r.id);
    },
    async insertClientCredentialsGrant(grant, purgeBefore) {
      machineGrantTx(grant, purgeBefore);
    },
    async purgeExpiredCodes(before) {
      return purgeCodes.run(before).changes;
    },
  };
}
