/** The `grants` repository on PostgreSQL: grants, the families every refresh token descends from. */
import type { ClientGrantRepository, GrantRecord, GrantRepository } from '../port/index.js';
import { insertAuditEvent } from './audit.js';
import { changes, query, row, rows, transaction, type Db, type Queryable } from './database.js';

export interface GrantRow {
  id: string;
  client_id: string;
  user_id: string | null;
  scopes: string[];
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
    scopes: row.scopes,
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

// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
export const GRANT_COLUMNS = 'id, client_id, user_id, scopes, origin, device_name, request_ip, request_user_agent, created_at, last_used_at, revoked_at, dpop_jkt';

const INSERT_GRANT = {
  name: 'grants.insert',
  text: `INSERT INTO grants (id, client_id, user_id, scopes, origin, device_name, request_ip, request_user_agent, created_at, last_used_at, revoked_at, dpop_jkt)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
};

/** Insert a grant; for use inside another repository's transaction. */
export async function insertGrant(on: Queryable, g: GrantRecord): Promise<void> {
  await query(on, INSERT_GRANT, [
    g.id, g.clientId, g.userId, g.scopes, g.origin, g.deviceName, g.requestIp, g.requestUserAgent, g.createdAt, g.lastUsedAt, g.revokedAt, g.dpopJkt,
  ]);
}

const BY_ID = { name: 'grants.by_id', text: `SELECT ${GRANT_COLUMNS} FROM grants WHERE id = $1` };
const BY_USER = { name: 'grants.by_user', text: `SELECT ${GRANT_COLUMNS} FROM grants WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC` };
// The UPDATE locks the grant row, so a rotation of its refresh token (which locks it first, see
// tokens.ts) runs wholly before or after: the DELETE, a statement of its own, then sees every
// token of the family that rotation committed.
const REVOKE = { name: 'grants.revoke', text: 'UPDATE grants SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL' };
const DROP_TOKENS = { name: 'grants.drop_tokens', text: 'DELETE FROM refresh_tokens WHERE grant_id = $1' };
// NULL filters match every row: one statement serves all, by user, by client and by both.
const LIVE = {
  name: 'grants.live',
  text: `SELECT ${GRANT_COLUMNS} FROM grants WHERE origin = $1 AND revoked_at IS NULL
    AND ($2::text IS NULL OR user_id = $2) AND ($3::text IS NULL OR client_id = $3) ORDER BY created_at DESC, id`,
};
const RENAME = { name: 'grants.rename', text: 'UPDATE grants SET device_name = $2 WHERE id = $1' };

export function createGrantRepository(db: Db): GrantRepository {
  return {
    async get(id) {
      const r = await row<GrantRow>(db, BY_ID, [id]);
      return r && toGrant(r);
    },
    async listByUser(userId) {
      return (await rows<GrantRow>(db, BY_USER, [userId])).map(toGrant);
    },
    async listLive({ origin, userId, clientId }) {
      return (await rows<GrantRow>(db, LIVE, [origin, userId ?? null, clientId ?? null])).map(toGrant);
    },
    async revoke(id, now, audit) {
      return transaction(db, async (tx) => {
        const changed = (await changes(tx, REVOKE, [id, now])) === 1;
        await query(tx, DROP_TOKENS, [id]);
        if (changed) await insertAuditEvent(tx, audit);
        return changed;
      });
    },
    async rename(id, deviceName) {
      await query(db, RENAME, [id, deviceName]);
    },
  };
}

const ACTIVE_FOR_USER = {
  name: 'grants.active_for_user',
  text: 'SELECT id FROM grants WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL LIMIT 1',
};
const ACTIVE_FOR_CLIENT = { name: 'grants.active_for_client', text: 'SELECT id FROM grants WHERE client_id = $1 AND revoked_at IS NULL' };
const PURGE_MACHINE_GRANTS = {
  name: 'grants.purge_machine',
  text: "DELETE FROM grants WHERE client_id = $1 AND user_id IS NULL AND origin = 'client_credentials' AND created_at < $2",
};

/**
 * The grants of a client that the authorization code and client credentials flows ask
 * about (part of `store.authorization`), and the grants behind client credentials tokens.
 */
export function createClientGrantRepository(db: Db): ClientGrantRepository {
  return {
    async hasActiveGrant(userId, clientId) {
      return (await row(db, ACTIVE_FOR_USER, [userId, clientId])) !== undefined;
    },
    async activeGrantIds(clientId) {
      return (await rows<{ id: string }>(db, ACTIVE_FOR_CLIENT, [clientId])).map((r) => r.id);
    },
    async insertClientCredentialsGrant(grant, purgeBefore) {
      await transaction(db, async (tx) => {
        await query(tx, PURGE_MACHINE_GRANTS, [grant.clientId, purgeBefore]);
        await insertGrant(tx, grant);
      });
    },
  };
}
