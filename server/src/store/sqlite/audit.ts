/** The `audit` repository on SQLite: the append-only `audit_events` table (migration 011). */
import type Database from 'better-sqlite3';
import { words } from './codec.js';
import { sharedStatement } from './statements.js';
import type { AuditEventRecord, AuditFilter, AuditOnWrite, AuditRepository, NewAuditEvent } from '../port/index.js';

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
  scopes: string | null;
  details: string;
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
    scopes: row.scopes === null ? null : words.parse(row.scopes),
    details: JSON.parse(row.details) as AuditEventRecord['details'],
  };
}

function toRow(e: NewAuditEvent) {
  return {
    at: e.at,
    type: e.type,
    actorType: e.actorType,
    actorId: e.actorId,
    actorName: e.actorName,
    userId: e.userId,
    username: e.username,
    clientId: e.clientId,
    grantId: e.grantId,
    deviceCodeId: e.deviceCodeId,
    ip: e.ip,
    scopes: e.scopes === null ? null : words.format(e.scopes),
    details: JSON.stringify(e.details),
  };
}

// A user's username comes from `users` when the caller did not know it (a local account);
// DO NOTHING: a second event of one type for one device code (audit_events_once_per_code).
const INSERT_AUDIT_EVENT = `INSERT INTO audit_events
    (at, type, actor_type, actor_id, actor_name, user_id, username, client_id, grant_id, device_code_id, ip, scopes, details)
  VALUES (@at, @type, @actorType, @actorId,
    COALESCE(@actorName, CASE WHEN @actorType = 'user' THEN (SELECT username FROM users WHERE id = @actorId) END),
    @userId, COALESCE(@username, (SELECT username FROM users WHERE id = @userId)),
    @clientId, @grantId, @deviceCodeId, @ip, @scopes, @details)
  ON CONFLICT DO NOTHING`;

/**
 * Insert one event (none when undefined); inside another repository's transaction, after its
 * write took effect, it records that write's event with it (AuditOnWrite in port/audit.ts).
 */
export function insertAuditEvent(db: Database.Database, event: AuditOnWrite): void {
  if (event) sharedStatement(db, INSERT_AUDIT_EVENT).run(toRow(event));
}

export function createAuditRepository(db: Database.Database): AuditRepository {
  // NULL filters match every row: one statement serves every combination.
  const list = db.prepare<Record<string, unknown>, AuditRow>(`SELECT * FROM audit_events
    WHERE (@since IS NULL OR at >= @since)
      AND (@userId IS NULL OR user_id = @userId OR (actor_type = 'user' AND actor_id = @userId))
      AND (@username IS NULL OR username = @username OR (actor_type = 'user' AND actor_name = @username))
      AND (@clientId IS NULL OR client_id = @clientId)
      AND (@types IS NULL OR type IN (SELECT value FROM json_each(@types)))
    ORDER BY at DESC, id DESC
    LIMIT @limit`);
  // The WHERE is also what lets SQLite read ON CONFLICT as the upsert clause of an INSERT … SELECT.
  const expired = db.prepare(`INSERT INTO audit_events (at, type, actor_type, client_id, device_code_id, scopes)
    SELECT expires_at, 'device.expired', 'system', client_id, id, scopes FROM device_codes
    WHERE status = 'pending' AND expires_at <= ?
    ON CONFLICT DO NOTHING`);
  const purge = db.prepare('DELETE FROM audit_events WHERE at < ?');

  return {
    async append(event) {
      insertAuditEvent(db, event);
    },
    async list(filter: AuditFilter) {
      const rows = list.all({
        since: filter.since ?? null,
        userId: filter.userId ?? null,
        username: filter.username ?? null,
        clientId: filter.clientId ?? null,
        types: filter.types ? JSON.stringify(filter.types) : null,
        limit: filter.limit,
      });
      return rows.map(toEvent);
    },
    async recordExpired(now) {
      return expired.run(now).changes;
    },
    async purgeBefore(before) {
      return purge.run(before).changes;
    },
  };
}
