/**
 * The `audit` repository on PostgreSQL: the append-only `audit_events` table (migration 011).
 * Instances append side by side; the unique index on (device_code_id, type) keeps one event per
 * code and type whoever records it (ON CONFLICT DO NOTHING waits for a concurrent insert).
 */
import type { AuditEventRecord, AuditRepository, NewAuditEvent } from '../port/index.js';
import { changes, query, rows, transaction, type Db, type Queryable } from './database.js';

interface AuditRow {
  id: number;
  at: number;
  type: string;
  actor_type: AuditEventRecord['actorType'];
  actor_id: string | null;
  actor_name: string | null;
  user_id: string | null;
  username: string | null;
  client_id: string | null;
  grant_id: string | null;
  device_code_id: number | null;
  ip: string | null;
  scopes: string[] | null;
  details: AuditEventRecord['details'];
}

function toEvent(row: AuditRow): AuditEventRecord {
  return {
    id: row.id,
    at: row.at,
    type: row.type,
    actorType: row.actor_type,
    actorId: row.actor_id,
    actorName: row.actor_name,
    userId: row.user_id,
    username: row.username,
    clientId: row.client_id,
    grantId: row.grant_id,
    deviceCodeId: row.device_code_id,
    ip: row.ip,
    scopes: row.scopes,
    details: row.details,
  };
}

// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
const COLUMNS = 'id, at, type, actor_type, actor_id, actor_name, user_id, username, client_id, grant_id, device_code_id, ip, scopes, details';

// A user's username comes from `users` when the caller did not know it (a local account).
const INSERT = {
  name: 'audit.insert',
  text: `INSERT INTO audit_events (at, type, actor_type, actor_id, actor_name, user_id, username, client_id, grant_id, device_code_id, ip, scopes, details)
    VALUES ($1, $2, $3, $4,
      COALESCE($5, CASE WHEN $3 = 'user' THEN (SELECT username FROM users WHERE id = $4) END),
      $6, COALESCE($7, (SELECT username FROM users WHERE id = $6)),
      $8, $9, $10, $11, $12, $13::jsonb)
    ON CONFLICT DO NOTHING`,
};
// NULL filters match every row: one statement serves every combination.
const LIST = {
  name: 'audit.list',
  text: `SELECT ${COLUMNS} FROM audit_events
    WHERE ($1::bigint IS NULL OR at >= $1)
      AND ($2::text IS NULL OR user_id = $2 OR (actor_type = 'user' AND actor_id = $2))
      AND ($3::text IS NULL OR username = $3 OR (actor_type = 'user' AND actor_name = $3))
      AND ($4::text IS NULL OR client_id = $4)
      AND ($5::text[] IS NULL OR type = ANY($5))
    ORDER BY at DESC, id DESC
    LIMIT $6`,
};
const RECORD_EXPIRED = {
  name: 'audit.record_expired',
  text: `INSERT INTO audit_events (at, type, actor_type, client_id, device_code_id, scopes)
    SELECT expires_at, 'device.expired', 'system', client_id, id, scopes FROM device_codes
    WHERE status = 'pending' AND expires_at <= $1
    ON CONFLICT DO NOTHING`,
};
const PURGE = { name: 'audit.purge', text: 'DELETE FROM audit_events WHERE at < $1' };

function values(e: NewAuditEvent): unknown[] {
  return [e.at, e.type, e.actorType, e.actorId, e.actorName, e.userId, e.username, e.clientId, e.grantId, e.deviceCodeId, e.ip, e.scopes, JSON.stringify(e.details)];
}

/**
 * Append one event on `on`: the pool, or another repository's transaction, so that a flow's own
 * write and its event commit together (nest it in `transaction(tx, …)` there).
 */
export async function insertAuditEvent(on: Queryable, event: NewAuditEvent): Promise<void> {
  await query(on, INSERT, values(event));
}

export function createAuditRepository(db: Db): AuditRepository {
  return {
    async append(event) {
      await insertAuditEvent(db, event);
    },
    async appendMany(events) {
      if (events.length === 0) return;
      await transaction(db, async (tx) => {
        for (const e of events) await insertAuditEvent(tx, e);
      });
    },
    async list(filter) {
      const found = await rows<AuditRow>(db, LIST, [
        filter.since ?? null,
        filter.userId ?? null,
        filter.username ?? null,
        filter.clientId ?? null,
        filter.types ? [...filter.types] : null,
        filter.limit,
      ]);
      return found.map(toEvent);
    },
    async recordExpired(now) {
      return changes(db, RECORD_EXPIRED, [now]);
    },
    async purgeBefore(before) {
      return changes(db, PURGE, [before]);
    },
  };
}
