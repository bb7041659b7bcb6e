/**
 * The `audit` repository on PostgreSQL: the append-only `audit_events` table (migration 011).
 * Instances append side by side; the unique index on (device_code_id, type) keeps one event per
 * code and type whoever records it (ON CONFLICT DO NOTHING waits for a concurrent insert).
 */
import type { AuditEventRecord, AuditOnWrite, AuditRepository } from '../port/index.js';
import { changes, query, rows, type Db, type Queryable } from './database.js';

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

// What an event is written with; read back with its id. Named, not `*`: a prepared statement's
// result must not change when a newer server adds a column.
const EVENT_COLUMNS = 'at, type, actor_type, actor_id, actor_name, user_id, username, client_id, grant_id, device_code_id, ip, scopes, details';
const COLUMNS = `id, ${EVENT_COLUMNS}`;
const EVENT_PARAMETERS = 13;

/**
 * An event's row as SQL values over the parameters from `$first` on (in the order of
 * `eventParameters`), typed, so that it serves in VALUES and in a SELECT alike. A user's
 * username comes from `users` when the caller did not know it (a local account).
 * `deviceCodeId`: the SQL of the device code id when the parameter is null (a column of the write).
 */
function eventValues(first: number, deviceCodeId = 'NULL'): string {
  const $ = (i: number) => `$${first + i}`;
  return `${$(0)}::bigint, ${$(1)}::text, ${$(2)}::text, ${$(3)}::text,
      COALESCE(${$(4)}::text, CASE WHEN ${$(2)}::text = 'user' THEN (SELECT username FROM users WHERE id = ${$(3)}::text) END),
      ${$(5)}::text, COALESCE(${$(6)}::text, (SELECT username FROM users WHERE id = ${$(5)}::text)),
      ${$(7)}::text, ${$(8)}::text, COALESCE(${$(9)}::bigint, ${deviceCodeId}), ${$(10)}::text, ${$(11)}::text[], ${$(12)}::jsonb`;
}

/** The parameters of `eventValues`: nulls for no event. */
function eventParameters(e: AuditOnWrite): unknown[] {
  if (!e) return new Array<null>(EVENT_PARAMETERS).fill(null);
  return [e.at, e.type, e.actorType, e.actorId, e.actorName, e.userId, e.username, e.clientId, e.grantId, e.deviceCodeId, e.ip, e.scopes, JSON.stringify(e.details)];
}

// DO NOTHING: a second event of one type for one device code (audit_events_once_per_code).
const INSERT = {
  name: 'audit.insert',
  text: `INSERT INTO audit_events (${EVENT_COLUMNS}) VALUES (${eventValues(1)}) ON CONFLICT DO NOTHING`,
};

/**
 * A one-statement write (with a RETURNING clause) and the insert of its event as one statement:
 * atomic, one round trip. The event, given after the write's `parameters` values (see
 * `auditedValues`), is inserted only when the write returns a row; `deviceCodeId` names the
 * returned column that fills an event's missing device code id (a code just inserted).
 */
export function auditedStatement(write: { name: string; text: string }, parameters: number, deviceCodeId?: string): { name: string; text: string } {
  return {
    name: `${write.name}+audit`,
    text: `WITH written AS (${write.text}),
      event AS (INSERT INTO audit_events (${EVENT_COLUMNS})
        SELECT ${eventValues(parameters + 1, deviceCodeId && `written.${deviceCodeId}`)} FROM written WHERE $${parameters + 2}::text IS NOT NULL
        ON CONFLICT DO NOTHING)
    SELECT * FROM written`,
  };
}

/** The values of an `auditedStatement`: the write's, then the event's (nulls for none). */
export function auditedValues(values: readonly unknown[], event: AuditOnWrite): unknown[] {
  return [...values, ...eventParameters(event)];
}

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

/**
 * Append one event (none when undefined) on `on`: the pool, or another repository's
 * transaction, where it records that write's event with it (AuditOnWrite in port/audit.ts).
 */
export async function insertAuditEvent(on: Queryable, event: AuditOnWrite): Promise<void> {
  if (event) await query(on, INSERT, eventParameters(event));
}

export function createAuditRepository(db: Db): AuditRepository {
  return {
    async append(event) {
      await insertAuditEvent(db, event);
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
