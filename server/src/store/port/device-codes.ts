/** RFC 8628 device codes: the record, a person's decision on one, and the `deviceCodes` repository. */
import type { AuditOnWrite } from './audit.js';
import type { GrantRecord } from './grants.js';
import type { RefreshTokenRecord } from './tokens.js';

export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'redeemed';

export interface DeviceCodeRecord {
  id: number;
  deviceCodeHash: Buffer;
  /** Normalised form, without dash. */
  userCode: string;
  clientId: string;
  scopes: string[];
  status: DeviceCodeStatus;
  userId: string | null;
  grantedScopes: string[] | null;
  createdAt: number;
  expiresAt: number;
  /** Current polling interval in seconds; grows by 5 on every slow_down. */
  interval: number;
  decidedAt: number | null;
  requestIp: string | null;
  requestUserAgent: string | null;
  grantId: string | null;
}

export type NewDeviceCode = Omit<DeviceCodeRecord, 'id' | 'status' | 'userId' | 'grantedScopes' | 'decidedAt' | 'grantId'>;

export type Decision =
  | { status: 'approved'; userId: string; grantedScopes: string[] }
  | { status: 'denied'; userId: string | null };

export interface DeviceCodeRepository {
  /**
   * Insert unless another live code (not yet expired at `now`) has the same user code; false then.
   * `audit` is recorded with the new row's id as its `deviceCodeId`.
   */
  insert(code: NewDeviceCode, now: number, audit?: AuditOnWrite): Promise<DeviceCodeRecord | undefined>;
  getByHash(deviceCodeHash: Buffer): Promise<DeviceCodeRecord | undefined>;
  getById(id: number): Promise<DeviceCodeRecord | undefined>;
  /** The code with this normalised user code whose row is still kept (live, or recently ended). */
  getByUserCode(userCode: string): Promise<DeviceCodeRecord | undefined>;
  /** Decide a pending, unexpired code. False when it was no longer pending (someone decided first) or had expired. */
  decide(id: number, decision: Decision, now: number, audit?: AuditOnWrite): Promise<boolean>;
  /**
   * Redeem an approved code exactly once: mark it redeemed and create the grant and
   * its first refresh token, in one transaction. False when it was not approved any more.
   */
  redeem(id: number, grant: GrantRecord, refreshToken: RefreshTokenRecord | undefined, audit?: AuditOnWrite): Promise<boolean>;
  /** Delete rows that expired before `before`. Returns how many. */
  purgeExpired(before: number): Promise<number>;
}

/**
 * RFC 8628 §3.5 pacing of pending polls shared by every instance on the database, for engines
 * that serve several machines (PostgreSQL keeps it in an UNLOGGED table: no WAL, one upsert a
 * poll, lost in a database crash, which is harmless: the next poll counts as a first poll).
 * Engines without it leave pacing to core's in-memory pacer (one process per database).
 */
export interface PollPacingRepository {
  /**
   * Record one poll of pending code `id` at `now`: `early` when it came sooner than the interval
   * in force, which then grows by `slowDownStep` seconds. The first poll of a code starts from
   * the code's own `interval` and is never early. Atomic when instances poll the same code at once.
   */
  poll(id: number, now: number, stored: { interval: number; expiresAt: number }, slowDownStep: number): Promise<{ early: boolean; interval: number }>;
}
