/** The `deviceCodes` repository on SQLite (RFC 8628): user codes unique among live codes, one decision, one redemption. */
import type Database from 'better-sqlite3';
import { insertAuditEvent } from './audit.js';
import { words } from './codec.js';
import { insertGrant } from './grants.js';
import { insertRefreshToken } from './tokens.js';
import { readCache } from './read-cache.js';
import type { TurnBatch } from './turn-batch.js';
import type { AuditOnWrite, Decision, DeviceCodeRecord, DeviceCodeRepository, GrantRecord, NewDeviceCode, RefreshTokenRecord } from '../port/index.js';

interface DeviceCodeRow {
  id: number;
  device_code_hash: Buffer;
  user_code: string;
  client_id: string;
  scopes: string;
  status: DeviceCodeRecord['status'];
  user_id: string | null;
  granted_scopes: string | null;
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
    scopes: words.parse(row.scopes),
    status: row.status,
    userId: row.user_id,
    grantedScopes: row.granted_scopes === null ? null : words.parse(row.granted_scopes),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    interval: row.interval,
    decidedAt: row.decided_at,
    requestIp: row.request_ip,
    requestUserAgent: row.request_user_agent,
    grantId: row.grant_id,
  };
}

/**
 * Pending device codes as last read (read-cache.ts), by hash: a device polls its code every
 * few seconds until someone decides, and the row read was the largest part of a pending poll's
 * CPU after the socket write. Only pending codes are kept; the one way out of pending is a
 * decision, which drops its code (or another connection's commit, which empties the cache), and
 * every delete of rows (the purge, an expired user code drawn again, a client's deletion in
 * clients.ts) empties it. A person's deletion removes only decided codes, never a pending one.
 */
export const DEVICE_CODE_CACHE = 'pending device codes';

const cacheKey = (hash: Buffer): string => hash.toString('base64');

function frozen(record: DeviceCodeRecord): DeviceCodeRecord {
  Object.freeze(record.scopes);
  return Object.freeze(record);
}

export function createDeviceCodeRepository(db: Database.Database, turn: TurnBatch, options: { cacheEntries: number }): DeviceCodeRepository {
  const pendingCodes = readCache<DeviceCodeRecord>(db, DEVICE_CODE_CACHE, options.cacheEntries);
  const dropExpiredUserCode = db.prepare('DELETE FROM device_codes WHERE user_code = ? AND expires_at <= ?');
  // The id is one above any id a device code ever had, not SQLite's rowid default (max + 1), which
  // hands out the id of a purged newest row again: the audit trail and the other processes' feed
  // name codes by id, so an id must never come back while they remember it.
  const insert = db.prepare(`INSERT INTO device_codes
      (id, device_code_hash, user_code, client_id, scopes, created_at, expires_at, interval, request_ip, request_user_agent)
    VALUES ((SELECT max(coalesce((SELECT max(id) FROM device_codes), 0), coalesce((SELECT max(device_code_id) FROM audit_events WHERE device_code_id IS NOT NULL), 0)) + 1),
      @deviceCodeHash, @userCode, @clientId, @scopes, @createdAt, @expiresAt, @interval, @requestIp, @requestUserAgent)
    ON CONFLICT (user_code) DO NOTHING`);
  const byHash = db.prepare<[Buffer], DeviceCodeRow>('SELECT * FROM device_codes WHERE device_code_hash = ?');
  const byId = db.prepare<[number], DeviceCodeRow>('SELECT * FROM device_codes WHERE id = ?');
  const byUserCode = db.prepare<[string], DeviceCodeRow>('SELECT * FROM device_codes WHERE user_code = ?');
  const decide = db.prepare<unknown[], { device_code_hash: Buffer }>(`UPDATE device_codes
    SET status = @status, user_id = @userId, granted_scopes = @grantedScopes, decided_at = @now
    WHERE id = @id AND status = 'pending' AND expires_at > @now
    RETURNING device_code_hash`);
  const purge = db.prepare('DELETE FROM device_codes WHERE expires_at < ?');

  /** The new code's id, or undefined when a live code holds its user code. */
  const insertTx = db.transaction((code: NewDeviceCode, now: number, audit: AuditOnWrite): number | undefined => {
    const values = { ...code, scopes: words.format(code.scopes) };
    let inserted = insert.run(values);
    // Its user code is taken: free if the code holding it has expired (drop that one, try again).
    if (inserted.changes === 0 && dropExpiredUserCode.run(code.userCode, now).changes > 0) {
      pendingCodes.clear();
      inserted = insert.run(values);
    }
    if (inserted.changes === 0) return undefined;
    const id = Number(inserted.lastInsertRowid);
    if (audit) insertAuditEvent(db, { ...audit, deviceCodeId: id });
    return id;
  });
  const decideTx = db.transaction((id: number, decision: Decision, now: number, audit: AuditOnWrite) => {
    const grantedScopes = decision.status === 'approved' ? words.format(decision.grantedScopes) : null;
    const decided = decide.get({ id, now, status: decision.status, userId: decision.userId, grantedScopes });
    if (!decided) return false;
    pendingCodes.delete(cacheKey(decided.device_code_hash));
    insertAuditEvent(db, audit);
    return true;
  });
  const redeem = redeemDeviceCodeTransaction(db);

  return {
    async insert(code, now, audit) {
      const id = await turn.run(() => insertTx(code, now, audit));
      // The row as inserted, built here: a RETURNING clause made SQLite fill and read back a
      // temporary table for every insert, about a tenth of the insert's CPU.
      if (id === undefined) return undefined;
      const { deviceCodeHash, userCode, clientId, scopes, createdAt, expiresAt, interval, requestIp, requestUserAgent } = code;
      return {
        id, deviceCodeHash, userCode, clientId, scopes: [...scopes], status: 'pending', userId: null, grantedScopes: null,
        createdAt, expiresAt, interval, decidedAt: null, requestIp, requestUserAgent, grantId: null,
      };
    },
    async getByHash(hash) {
      const checking = pendingCodes.fresh();
      if (checking) await checking;
      const key = cacheKey(hash);
      const cached = pendingCodes.get(key);
      if (cached) return cached;
      const row = byHash.get(hash);
      if (!row) return undefined;
      const record = toDeviceCode(row);
      if (record.status === 'pending') pendingCodes.set(key, frozen(record));
      return record;
    },
    async getById(id) {
      const row = byId.get(id);
      return row && toDeviceCode(row);
    },
    async getByUserCode(userCode) {
      const row = byUserCode.get(userCode);
      return row && toDeviceCode(row);
    },
    async decide(id, decision, now, audit) {
      return turn.run(() => decideTx(id, decision, now, audit));
    },
    async redeem(id, grant, refreshToken, audit) {
      return turn.run(() => redeem(id, grant, refreshToken, audit));
    },
    async purgeExpired(before) {
      const purged = purge.run(before).changes;
      if (purged > 0) pendingCodes.clear();
      return purged;
    },
  };
}

class AlreadyRedeemed extends Error {}

/**
 * Spend an approved device code: insert its grant and refresh token and mark it redeemed,
 * all or nothing. False, with nothing written, when the code is no longer `approved`
 * (redeemed first by someone else); `audit` (device.redeemed) is written with it. Called inside another repository's transaction it
 * nests as a savepoint, so that repository can commit its own rows with the redemption
 * (the MQTT bridge's stored token answer).
 */
export function redeemDeviceCodeTransaction(db: Database.Database) {
  const markRedeemed = db.prepare(`UPDATE device_codes SET status = 'redeemed', grant_id = ? WHERE id = ? AND status = 'approved'`);
  const redeemTx = db.transaction((id: number, grant: GrantRecord, refreshToken: RefreshTokenRecord | undefined, audit: AuditOnWrite) => {
    insertGrant(db, grant);
    if (markRedeemed.run(grant.id, id).changes !== 1) {
      // Someone else redeemed it first: throwing rolls the grant back.
      throw new AlreadyRedeemed();
    }
    if (refreshToken) insertRefreshToken(db, refreshToken);
    insertAuditEvent(db, audit);
  });
  return (id: number, grant: GrantRecord, refreshToken: RefreshTokenRecord | undefined, audit?: AuditOnWrite): boolean => {
    try {
      redeemTx(id, grant, refreshToken, audit);
      return true;
    } catch (err) {
      if (err instanceof AlreadyRedeemed) return false;
      throw err;
    }
  };
}
