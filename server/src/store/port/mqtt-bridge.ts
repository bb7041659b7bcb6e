/**
 * The MQTT bridge's own storage: request ids bound to device codes, the encrypted answers
 * kept for them, replayed proof ids and the bridges' heartbeats. Outside the `Store` core
 * sees; the bridge gets it from the composition point (see `StoreEngine` in index.ts).
 */
import type { JWK } from 'jose';
import type { AuditOnWrite } from './audit.js';
import type { DeviceCodeStatus } from './device-codes.js';
import type { GrantRecord } from './grants.js';
import type { RefreshTokenRecord } from './tokens.js';

/** The status a device is told on `{rid}/status`. */
export type MqttNotifiedStatus = 'approved' | 'denied' | 'expired';

/** One device flow run over MQTT: the request id, the device code it holds (by id) and the device's key. */
export interface MqttRequestRecord {
  rid: string;
  deviceCodeId: number;
  clientId: string;
  /** The device's ephemeral public key: proofs are verified and answers encrypted with it. */
  jwk: JWK;
  /** RFC 7638 thumbprint of `jwk`. */
  jwkThumbprint: string;
  createdAt: number;
  notifiedStatus: MqttNotifiedStatus | null;
  /** The token response as a compact JWE to `jwk`; null until the code is redeemed. */
  tokenAnswer: string | null;
}

/** A request with the state of its device code, read in the same query. */
export interface MqttRequestView extends MqttRequestRecord {
  codeStatus: DeviceCodeStatus;
  expiresAt: number;
  userCode: string;
  interval: number;
}

export type NewMqttRequest = Omit<MqttRequestRecord, 'notifiedStatus' | 'tokenAnswer'>;

/** A redemption of the code a rid holds, with its answer already encrypted to the device. */
export interface MqttRedemption {
  rid: string;
  deviceCodeId: number;
  grant: GrantRecord;
  refresh: RefreshTokenRecord | undefined;
  /** The token response as a compact JWE to the rid's key. */
  tokenAnswer: string;
  /** `device.redeemed`, recorded with the redemption (see AuditOnWrite). */
  audit?: AuditOnWrite;
}

/** A rotation of a refresh token served over MQTT, with its answer already encrypted. */
export interface MqttRotation {
  oldHash: Buffer;
  next: RefreshTokenRecord;
  now: number;
  /** RFC 7638 thumbprint of the key `answer` is encrypted to. */
  jwkThumbprint: string;
  /** The rotated pair as a compact JWE. */
  answer: string;
  /** `refresh.rotated`, recorded with the rotation (see AuditOnWrite). */
  audit?: AuditOnWrite;
}

/** Storage of the MQTT bridge. Every method is atomic. */
export interface MqttRepository {
  /** Bind `rid` to a device code; false when the rid is already taken. */
  insert(request: NewMqttRequest): Promise<boolean>;
  get(rid: string): Promise<MqttRequestView | undefined>;
  getByDeviceCodeId(deviceCodeId: number): Promise<MqttRequestView | undefined>;
  /** Requests whose code was decided or had expired at `now` and whose status was not yet published. */
  listUnnotified(now: number, limit: number): Promise<MqttRequestView[]>;
  /** Record the statuses the broker acknowledged, in one transaction (one commit, one fsync). */
  markNotifiedMany(entries: ReadonlyArray<{ rid: string; status: MqttNotifiedStatus }>): Promise<void>;
  /**
   * Spend the device code of `rid` (its grant, refresh token and status, as
   * `deviceCodes.redeem` does) and keep the encrypted token answer, in one transaction: after
   * any crash both are on disk or neither, so a device whose code is spent can always be
   * answered again. False, with nothing written, when the code was no longer approved.
   */
  redeemWithAnswer(redemption: MqttRedemption): Promise<boolean>;
  /**
   * Rotate the refresh token (as `refreshTokens.rotate` does) and keep the encrypted answer,
   * in one transaction. False, with nothing written, when the old token was spent or its
   * grant revoked.
   */
  rotateWithAnswer(rotation: MqttRotation): Promise<boolean>;
  /**
   * The answer kept for a refresh with the token hashed `oldHash`, if it was encrypted to
   * `jwkThumbprint`, the token belongs to `clientId`, and the refresh token inside the answer
   * is still the live one of its family (unused, grant not revoked, not expired at `now`).
   */
  refreshAnswer(oldHash: Buffer, clientId: string, jwkThumbprint: string, now: number): Promise<string | undefined>;
  /** Forget refresh answers whose token inside has expired or been used. */
  purgeRefreshAnswers(now: number): Promise<number>;
  /** Remember a proof's `jti` for `rid` until `expiresAt`; false when it was seen before (a replay). */
  rememberProof(rid: string, jti: string, expiresAt: number): Promise<boolean>;
  /** Remember many proof ids in one transaction; ids already known are skipped. */
  rememberProofs(entries: ReadonlyArray<{ rid: string; jti: string; expiresAt: number }>): Promise<void>;
  /** Whether a proof id was remembered. */
  hasProof(rid: string, jti: string): Promise<boolean>;
  /** Forget proof ids that could no longer pass the freshness check. */
  purgeProofs(before: number): Promise<number>;
  /** Bridge `clientId` is connected to the broker at `now` (its heartbeat). */
  markBridgeSeen(clientId: string, now: number): Promise<void>;
  /** Bridges other than `clientId` seen at or after `since`. */
  countOtherBridges(clientId: string, since: number): Promise<number>;
  /** Bridge `clientId` has stopped. */
  forgetBridge(clientId: string): Promise<void>;
}
