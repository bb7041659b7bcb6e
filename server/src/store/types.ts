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
  decidedAt: number | null;
  requestIp: string | null;
  requestUserAgent: string | null;
  grantId: string | null;
}

export type NewDeviceCode = Omit<DeviceCodeRecord, 'id' | 'status' | 'userId' | 'grantedScopes' | 'decidedAt' | 'grantId'>;

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
  /** The clients a person registered (on /apps or with their initial access token). */
  listByOwner(ownerUserId: string): Promise<ClientRecord[]>;
  /** Replace a confidential client's secret hash. False when there is no such confidential client. */
  updateSecretHash(id: string, secretHash: string): Promise<boolean>;
  /** Delete a client; its grants, refresh tokens, codes and consents go with it. False when unknown. */
  delete(id: string): Promise<boolean>;
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

/** A browser session of the verification pages; looked up by the SHA-256 of its id. */
export interface SessionRecord {
  idHash: Buffer;
  userId: string | null;
  username: string | null;
  /** Small JSON state kept server-side (the pending user code, the last outcome, ...). */
  data: Record<string, unknown>;
  createdAt: number;
  authenticatedAt: number | null;
  lastSeenAt: number;
  expiresAt: number;
}

export interface SessionRepository {
  create(session: SessionRecord): Promise<void>;
  /** The session unless it has expired at `now`. */
  get(idHash: Buffer, now: number): Promise<SessionRecord | undefined>;
  update(session: SessionRecord): Promise<void>;
  /** Swap a session for one with a new id in one transaction (rotation at sign-in). */
  replace(oldHash: Buffer, next: SessionRecord): Promise<void>;
  delete(idHash: Buffer): Promise<void>;
  purgeExpired(now: number): Promise<number>;
}

/** Failed attempts counted under one key (a client IP, a session, ...). */
export interface AttemptCounter {
  failures: number;
  lastFailureAt: number;
}

export interface AttemptRepository {
  get(key: string): Promise<AttemptCounter | undefined>;
  /** Count one more failure at `now`, atomically; a counter idle since before `forgetBefore` starts again at 1. */
  recordFailure(key: string, now: number, forgetBefore: number): Promise<AttemptCounter>;
  purgeOlderThan(before: number): Promise<number>;
}

/** RFC 6749 §4.1.2: an issued authorization code (stored only hashed). */
export interface AuthorizationCodeRecord {
  codeHash: Buffer;
  clientId: string;
  userId: string;
  scopes: string[];
  redirectUri: string;
  /** The authorization request carried redirect_uri, so the token request must too (RFC 6749 §4.1.3). */
  redirectUriGiven: boolean;
  /** RFC 7636 S256 code challenge. */
  codeChallenge: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  /** The grant its redemption created; revoked when the code comes back (RFC 6749 §4.1.2). */
  grantId: string | null;
}

/** What a person decided for a client: remembered so the same request can skip the consent screen. */
export interface ConsentRecord {
  userId: string;
  clientId: string;
  requestedScopes: string[];
  grantedScopes: string[];
  updatedAt: number;
}

export type ApplicationKind = 'spa' | 'mobile' | 'cli' | 'tv' | 'server';

/** How an application was registered and what it registered as; `metadata` is the RFC 7591 echo. */
export interface ClientProfileRecord {
  clientId: string;
  kind: ApplicationKind;
  registeredVia: 'apps' | 'register';
  tokenEndpointAuthMethod: string;
  metadata: Record<string, unknown>;
}

/** RFC 7591 §3: an initial access token `kalm iat create` issued (stored only hashed). */
export interface InitialAccessTokenRecord {
  tokenHash: Buffer;
  ownerUserId: string | null;
  createdAt: number;
  expiresAt: number;
  usesLeft: number;
}

export interface AuthorizationRepository {
  insertCode(code: AuthorizationCodeRecord): Promise<void>;
  getCode(codeHash: Buffer): Promise<AuthorizationCodeRecord | undefined>;
  /**
   * Spend an unused, unexpired code and create its grant and first refresh token, in one
   * transaction. False when the code was already used (or had expired) at `now`.
   */
  redeemCode(codeHash: Buffer, grant: GrantRecord, refreshToken: RefreshTokenRecord | undefined, now: number): Promise<boolean>;
  getConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined>;
  saveConsent(consent: ConsentRecord): Promise<void>;
  /** True when `userId` holds a grant for `clientId` that is not revoked. */
  hasActiveGrant(userId: string, clientId: string): Promise<boolean>;
  /** Ids of every grant of `clientId` that is not revoked. */
  activeGrantIds(clientId: string): Promise<string[]>;
  /**
   * Record the grant behind a client credentials access token, and drop the client's
   * earlier ones created before `purgeCreatedBefore` (their tokens have expired).
   */
  insertClientCredentialsGrant(grant: GrantRecord, purgeCreatedBefore: number): Promise<void>;
  /** Delete codes that expired before `before`. Returns how many. */
  purgeExpiredCodes(before: number): Promise<number>;
}

export interface RegistrationRepository {
  saveProfile(profile: ClientProfileRecord): Promise<void>;
  getProfile(clientId: string): Promise<ClientProfileRecord | undefined>;
  insertInitialAccessToken(token: InitialAccessTokenRecord): Promise<void>;
  /** A live initial access token (not expired at `now`, uses left), without taking a use. */
  findInitialAccessToken(tokenHash: Buffer, now: number): Promise<InitialAccessTokenRecord | undefined>;
  /** Take one use of a live initial access token; undefined when unknown, expired or used up. */
  useInitialAccessToken(tokenHash: Buffer, now: number): Promise<InitialAccessTokenRecord | undefined>;
}

/** Decisions and revocations committed to the database, read by the other server processes on it. */
export interface DecisionFeedRepository {
  /** Whether another connection committed anything since the last call. */
  changedElsewhere(): Promise<boolean>;
  /** Device codes decided at or after `since` (ms), oldest first. */
  decidedSince(since: number): Promise<Array<{ deviceCodeId: number; status: 'approved' | 'denied'; at: number }>>;
  /** Grants revoked at or after `since` (ms), oldest first. */
  revokedSince(since: number): Promise<Array<{ grantId: string; at: number }>>;
  /** The time of the latest decision or revocation in the database (0 when none). */
  latest(): Promise<number>;
}

export interface Store {
  clients: ClientRepository;
  users: UserRepository;
  deviceCodes: DeviceCodeRepository;
  grants: GrantRepository;
  refreshTokens: RefreshTokenRepository;
  accessTokens: AccessTokenRepository;
  keys: KeyRepository;
  sessions: SessionRepository;
  attempts: AttemptRepository;
  authorization: AuthorizationRepository;
  registration: RegistrationRepository;
  decisionFeed: DecisionFeedRepository;
  close(): void;
}
