/**
 * The storage interface `core/` talks to. Every method is atomic on its own
 * (multi-step changes are one method, run in one transaction), and async, so a
 * networked database can implement it later without touching `core/`.
 * Times are milliseconds since the epoch; secrets arrive here already hashed.
 */
import type { JWK } from 'jose';

export type ClientType = 'public' | 'confidential';
export type UserRole = 'user' | 'developer' | 'admin';
export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'redeemed';
export type SigningAlg = 'ES256' | 'RS256';

export interface ClientRecord {
  id: string;
  name: string;
  type: ClientType;
  /** scrypt hash of the client secret; null for public clients. */
  secretHash: string | null;
  grantTypes: string[];
  scopes: string[];
  redirectUris: string[];
  /** Per-client override of the device code lifetime, seconds. */
  deviceCodeTtl: number | null;
  /** Per-client override of the polling interval, seconds. */
  devicePollInterval: number | null;
  /** Per-client access token algorithm; null means the server default. */
  accessTokenAlg: SigningAlg | null;
  ownerUserId: string | null;
  createdAt: number;
}

export interface UserRecord {
  id: string;
  username: string;
  passwordHash: string;
  role: UserRole;
  createdAt: number;
}

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
  lastPolledAt: number | null;
  decidedAt: number | null;
  requestIp: string | null;
  requestUserAgent: string | null;
  grantId: string | null;
}

export type NewDeviceCode = Omit<DeviceCodeRecord, 'id' | 'status' | 'userId' | 'grantedScopes' | 'lastPolledAt' | 'decidedAt' | 'grantId'>;

/** A grant: what one person (or client) allowed one client; the family every refresh token descends from. */
export interface GrantRecord {
  id: string;
  clientId: string;
  /** null for grants without a person (client credentials). */
  userId: string | null;
  scopes: string[];
  /** The grant type that created it: `urn:ietf:params:oauth:grant-type:device_code`, `authorization_code`, … */
  origin: string;
  /** A name the person gave the paired device. */
  deviceName: string | null;
  requestIp: string | null;
  requestUserAgent: string | null;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface RefreshTokenRecord {
  tokenHash: Buffer;
  grantId: string;
  clientId: string;
  createdAt: number;
  expiresAt: number;
  /** Set when the token was rotated; presenting it again is reuse. */
  usedAt: number | null;
}

export interface KeyRecord {
  kid: string;
  alg: SigningAlg | 'ECDH-ES+A256KW';
  use: 'sig' | 'enc';
  privateJwk: JWK;
  publicJwk: JWK;
  createdAt: number;
  /** When it stopped being used for new tokens; it stays published until its tokens expire. */
  retiredAt: number | null;
}

export type Decision =
  | { status: 'approved'; userId: string; grantedScopes: string[] }
  | { status: 'denied'; userId: string | null };

export interface ClientRepository {
  create(client: ClientRecord): Promise<void>;
  get(id: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
}

export interface UserRepository {
  create(user: UserRecord): Promise<void>;
  get(id: string): Promise<UserRecord | undefined>;
  getByUsername(username: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
}

export interface DeviceCodeRepository {
  /** Insert unless another live code (not yet expired at `now`) has the same user code; false then. */
  insert(code: NewDeviceCode, now: number): Promise<DeviceCodeRecord | undefined>;
  getByHash(deviceCodeHash: Buffer): Promise<DeviceCodeRecord | undefined>;
  getById(id: number): Promise<DeviceCodeRecord | undefined>;
  /** The code with this normalised user code whose row is still kept (live, or recently ended). */
  getByUserCode(userCode: string): Promise<DeviceCodeRecord | undefined>;
  /** Remember a poll and the interval now in force. */
  recordPoll(id: number, polledAt: number, interval: number): Promise<void>;
  /** Decide a pending, unexpired code. False when it was no longer pending (someone decided first) or had expired. */
  decide(id: number, decision: Decision, now: number): Promise<boolean>;
  /**
   * Redeem an approved code exactly once: mark it redeemed and create the grant and
   * its first refresh token, in one transaction. False when it was not approved any more.
   */
  redeem(id: number, grant: GrantRecord, refreshToken: RefreshTokenRecord | undefined): Promise<boolean>;
  /** Delete rows that expired before `before`. Returns how many. */
  purgeExpired(before: number): Promise<number>;
}

export interface GrantRepository {
  get(id: string): Promise<GrantRecord | undefined>;
  listByUser(userId: string): Promise<GrantRecord[]>;
  /** Revoke a grant and with it every refresh token of its family. False when it was already revoked. */
  revoke(id: string, now: number): Promise<boolean>;
  rename(id: string, deviceName: string): Promise<void>;
}

export interface RefreshTokenRepository {
  getByHash(tokenHash: Buffer): Promise<RefreshTokenRecord | undefined>;
  /**
   * Rotate: mark `oldHash` used and insert `next`, atomically, only if the old one
   * was unused and its grant not revoked. False otherwise (reuse or revoked).
   */
  rotate(oldHash: Buffer, next: RefreshTokenRecord, now: number): Promise<boolean>;
}

export interface AccessTokenRepository {
  /** Remember that the access token `jti` is revoked until it would have expired anyway. */
  revoke(jti: string, expiresAt: number): Promise<void>;
  isRevoked(jti: string): Promise<boolean>;
}

export interface KeyRepository {
  list(): Promise<KeyRecord[]>;
  /** Insert `keys` and retire every other active key of the same algorithms, in one transaction. */
  rotate(keys: KeyRecord[], now: number): Promise<void>;
}

export interface Store {
  clients: ClientRepository;
  users: UserRepository;
  deviceCodes: DeviceCodeRepository;
  grants: GrantRepository;
  refreshTokens: RefreshTokenRepository;
  accessTokens: AccessTokenRepository;
  keys: KeyRepository;
  close(): void;
}
