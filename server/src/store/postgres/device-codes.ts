/**
 * The `deviceCodes` repository on PostgreSQL (RFC 8628): user codes unique among live codes,
 * one decision, one redemption, whichever instances race for them; and `pollPacing`, the
 * RFC 8628 §3.5 pacing every instance shares.
 */
import type { AuditOnWrite, DeviceCodeRecord, DeviceCodeRepository, GrantRecord, NewDeviceCode, PollPacingRepository, RefreshTokenRecord } from '../port/index.js';
import { auditedStatement, auditedValues, insertAuditEvent } from './audit.js';
import { changes, query, row, transaction, type Db, type Queryable } from './database.js';
import { insertGrant } from './grants.js';
import { insertRefreshToken } from './tokens.js';

interface DeviceCodeRow {
  id: number;
  device_code_hash: Buffer;
  user_code: string;
  client_id: string;
  scopes: string[];
  status: DeviceCodeRecord['status'];
  user_id: string | null;
  granted_scopes: string[] | null;
  created_at: number;
  expires_at: number;
  interval: number;
  decided_at: number | null;
  request_ip: string | null;
  request_user_agent: string | null;
  grant_id: string | null;
}

function toDeviceCode(row: DeviceCodeRow): DeviceCodeRecord {
  return {
    id: row.id,
    deviceCodeHash: row.device_code_hash,
    userCode: row.user_code,
    clientId: row.client_id,
    scopes: row.scopes,
    status: row.status,
    userId: row.user_id,
    grantedScopes: row.granted_scopes,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    interval: row.interval,
    decidedAt: row.decided_at,
    requestIp: row.request_ip,
    requestUserAgent: row.request_user_agent,
    grantId: row.grant_id,
  };
}

// The unique index on user_code decides between instances drawing the same code at once: the
// second insert waits for the first to commit and then does nothing.
// Named, not `*`: a prepared statement's result must not change when a newer server adds a column.
const COLUMNS = 'id, device_code_hash, user_code, client_id, scopes, status, user_id, granted_scopes, created_at, expires_at, interval, decided_at, request_ip, request_user_agent, grant_id';

// With its `device.requested` event, which takes the new row's id.
const INSERT = auditedStatement(
  {
    name: 'device_codes.insert',
    text: `INSERT INTO device_codes (device_code_hash, user_code, client_id, scopes, created_at, expires_at, interval, request_ip, request_user_agent)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
      ON CONFLICT (user_code) DO NOTHING
      RETURNING ${COLUMNS}`,
  },
  9,
  'id',
);
const DROP_EXPIRED_USER_CODE = { name: 'device_codes.drop_expired_user_code', text: 'DELETE FROM device_codes WHERE user_code = $1 AND expires_at <= $2' };
const BY_HASH = { name: 'device_codes.by_hash', text: `SELECT ${COLUMNS} FROM device_codes WHERE device_code_hash = $1` };
const BY_ID = { name: 'device_codes.by_id', text: `SELECT ${COLUMNS} FROM device_codes WHERE id = $1` };
const BY_USER_CODE = { name: 'device_codes.by_user_code', text: `SELECT ${COLUMNS} FROM device_codes WHERE user_code = $1` };
// Conditional on `pending`: of two decisions racing, the second waits on the row lock, finds
// the status changed and updates nothing. Setting decided_at fires the kalm_feed NOTIFY (006).
// With its event (`device.approved`, `device.denied`), only when it decided.
const DECIDE = auditedStatement(
  {
    name: 'device_codes.decide',
    text: `UPDATE device_codes SET status = $2, user_id = $3, granted_scopes = $4, decided_at = $5
      WHERE id = $1 AND status = 'pending' AND expires_at > $5
      RETURNING id`,
  },
  5,
);
const MARK_REDEEMED = {
  name: 'device_codes.mark_redeemed',
  text: `UPDATE device_codes SET status = 'redeemed', grant_id = $2 WHERE id = $1 AND status = 'approved'`,
};
const PURGE = { name: 'device_codes.purge', text: 'DELETE FROM device_codes WHERE expires_at < $1' };

class AlreadyRedeemed extends Error {}

/**
 * Spend an approved device code: insert its grant and refresh token and mark it redeemed,
 * all or nothing. False, with nothing written, when the code is no longer `approved`
 * (redeemed first by someone else, on any instance). Given a transaction it nests as a
 * savepoint, so that repository can commit its own rows with the redemption (the MQTT
 * bridge's stored token answer). `audit` (device.redeemed) is written with it.
 */
export async function redeemDeviceCode(on: Queryable, id: number, grant: GrantRecord, refreshToken: RefreshTokenRecord | undefined, audit?: AuditOnWrite): Promise<boolean> {
  try {
    return await transaction(on, async (tx) => {
      await insertGrant(tx, grant);
      // Someone else redeemed it first: throwing rolls the grant back.
      if ((await changes(tx, MARK_REDEEMED, [id, grant.id])) !== 1) throw new AlreadyRedeemed();
      if (refreshToken) await insertRefreshToken(tx, refreshToken);
      await insertAuditEvent(tx, audit);
      return true;
    });
  } catch (err) {
    if (err instanceof AlreadyRedeemed) return false;
    throw err;
  }
}

export function createDeviceCodeRepository(db: Db): DeviceCodeRepository {
  const insert = async (code: NewDeviceCode, audit: AuditOnWrite) =>
    row<DeviceCodeRow>(db, INSERT, auditedValues([
      code.deviceCodeHash, code.userCode, code.clientId, code.scopes, code.createdAt, code.expiresAt, code.interval, code.requestIp, code.requestUserAgent,
    ], audit));
  return {
    async insert(code, now, audit) {
      // Nearly always one statement. Only when the user code is taken: drop the row holding it
      // if that code has expired, and try once more (each step atomic: an instance that takes
      // the code in between wins, and this insert does nothing).
      let r = await insert(code, audit);
      if (!r && (await changes(db, DROP_EXPIRED_USER_CODE, [code.userCode, now])) > 0) r = await insert(code, audit);
      return r && toDeviceCode(r);
    },
    async getByHash(hash) {
      const r = await row<DeviceCodeRow>(db, BY_HASH, [hash]);
      return r && toDeviceCode(r);
    },
    async getById(id) {
      const r = await row<DeviceCodeRow>(db, BY_ID, [id]);
      return r && toDeviceCode(r);
    },
    async getByUserCode(userCode) {
      const r = await row<DeviceCodeRow>(db, BY_USER_CODE, [userCode]);
      return r && toDeviceCode(r);
    },
    async decide(id, decision, now, audit) {
      const grantedScopes = decision.status === 'approved' ? decision.grantedScopes : null;
      return (await changes(db, DECIDE, auditedValues([id, decision.status, decision.userId, grantedScopes, now], audit))) === 1;
    },
    async redeem(id, grant, refreshToken, audit) {
      return redeemDeviceCode(db, id, grant, refreshToken, audit);
    },
    async purgeExpired(before) {
      return changes(db, PURGE, [before]);
    },
  };
}

// One upsert a poll, on the UNLOGGED device_code_polls (007). The first poll inserts the code's
// own interval, never early; a later one is early when it came sooner than the interval in
// force, which then grows by the slow_down step. Every SET expression reads the row as it was,
// and ON CONFLICT DO UPDATE holds the row's lock: polls arriving at once on several instances
// are counted one after another.
const POLL = {
  name: 'device_code_polls.poll',
  text: `INSERT INTO device_code_polls AS p (device_code_id, last_polled_at, interval, early)
    VALUES ($1, $2::bigint, $3, false)
    ON CONFLICT (device_code_id) DO UPDATE SET
      early = $2::bigint - p.last_polled_at < p.interval * 1000::bigint,
      interval = p.interval + CASE WHEN $2::bigint - p.last_polled_at < p.interval * 1000::bigint THEN $4::integer ELSE 0 END,
      last_polled_at = $2::bigint
    RETURNING early, interval`,
};
const FOREIGN_KEY_VIOLATION = '23503';

/** RFC 8628 §3.5 pacing shared by every instance on the database (see PollPacingRepository). */
export function createPollPacingRepository(db: Db): PollPacingRepository {
  return {
    async poll(id, now, stored, slowDownStep) {
      try {
        const r = await row<{ early: boolean; interval: number }>(db, POLL, [id, now, stored.interval, slowDownStep]);
        return { early: r!.early, interval: r!.interval };
      } catch (err) {
        // The code was purged since the caller read it: nothing to pace, a first poll.
        if ((err as { code?: string }).code === FOREIGN_KEY_VIOLATION) return { early: false, interval: stored.interval };
        throw err;
      }
    },
  };
}
