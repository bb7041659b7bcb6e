/** The `grants` repository on SQLite: grants, the families every refresh token descends from. */
import type Database from 'better-sqlite3';
import type { AuditOnWrite, ClientGrantRepository, GrantRecord, GrantRepository } from '../port/index.js';
import { insertAuditEvent } from './audit.js';
import { words } from './codec.js';
import { sharedStatement } from './statements.js';

export interface GrantRow {
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
  dpop_jkt: string | null;
}

export function toGrant(row: GrantRow): GrantRecord {
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
    dpopJkt: row.dpop_jkt,
  };
}

const INSERT_GRANT = `INSERT INTO grants (id, client_id, user_id, scopes, origin, device_name, request_ip, request_user_agent, created_at, last_used_at, revoked_at, dpop_jkt)
  VALUES (@id, @clientId, @userId, @scopes, @origin, @deviceName, @requestIp, @requestUserAgent, @createdAt, @lastUsedAt, @revokedAt, @dpopJkt)`;

/** Insert a grant; for use inside another repository's transaction. */
export function insertGrant(db: Database.Database, grant: GrantRecord): void {
  sharedStatement(db, INSERT_GRANT).run({ ...grant, scopes: words.format(grant.scopes) });
}

export function createGrantRepository(db: Database.Database): GrantRepository {
  const byId = db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE id = ?');
  const byUser = db.prepare<[string], GrantRow>('SELECT * FROM grants WHERE user_id = ? AND revoked_at IS NULL ORDER BY created_at DESC');
  // NULL filters match every row: one statement serves all, by user, by client and by both.
  const live = db.prepare<{ origin: string; userId: string | null; clientId: string | null }, GrantRow>(`SELECT * FROM grants
    WHERE origin = @origin AND revoked_at IS NULL AND (@userId IS NULL OR user_id = @userId) AND (@clientId IS NULL OR client_id = @clientId)
    ORDER BY created_at DESC, id`);
  const revoke = db.prepare('UPDATE grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const dropTokens = db.prepare('DELETE FROM refresh_tokens WHERE grant_id = ?');
  const rename = db.prepare('UPDATE grants SET device_name = ? WHERE id = ?');
  const revokeTx = db.transaction((id: string, now: number, audit: AuditOnWrite) => {
    const changed = revoke.run(now, id).changes === 1;
    dropTokens.run(id);
    if (changed) insertAuditEvent(db, audit);
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
    async listLive({ origin, userId, clientId }) {
      return live.all({ origin, userId: userId ?? null, clientId: clientId ?? null }).map(toGrant);
    },
    async revoke(id, now, audit) {
      return revokeTx(id, now, audit);
    },
    async rename(id, deviceName) {
      rename.run(deviceName, id);
    },
  };
}

/**
 * The grants of a client that the authorization code and client credentials flows ask
 * about (part of `store.authorization`), and the grants behind client credentials tokens.
 */
export function createClientGrantRepository(db: Database.Database): ClientGrantRepository {
  const activeForUser = db.prepare<[string, string], { id: string }>(
    'SELECT id FROM grants WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL LIMIT 1',
  );
  const activeForClient = db.prepare<[string], { id: string }>('SELECT id FROM grants WHERE client_id = ? AND revoked_at IS NULL');
  const purgeMachineGrants = db.prepare(
    "DELETE FROM grants WHERE client_id = ? AND user_id IS NULL AND origin = 'client_credentials' AND created_at < ?",
  );
  const machineGrantTx = db.transaction((grant: GrantRecord, purgeBefore: number) => {
    purgeMachineGrants.run(grant.clientId, purgeBefore);
    insertGrant(db, grant);
  });

  return {
    async hasActiveGrant(userId, clientId) {
      return activeForUser.get(userId, clientId) !== undefined;
    },
    async activeGrantIds(clientId) {
      return activeForClient.all(clientId).map((r) => r.id);
    },
    async insertClientCredentialsGrant(grant, purgeBefore) {
      machineGrantTx(grant, purgeBefore);
    },
  };
}
