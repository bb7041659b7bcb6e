import { jwtVerify, createLocalJWKSet, errors as joseErrors, type JWTPayload } from 'jose';
import type { AuditActor, AuditContext, AuditTrail } from './audit.js';
import { epochSeconds, type Clock } from './clock.js';
import { assertRefreshBinding, type DpopProof } from './dpop.js';
import { OAuthError } from './errors.js';
import { formatScope, isSubset, parseScope } from './scopes.js';
import { signCompactJwt } from './jws.js';
import { hashSecret, newSecret, type RandomSource } from './secrets.js';
import type { DeviceEvents } from './events.js';
import type { KeyManager } from './keys.js';
import type { CoreObserver } from './observer.js';
import type { Config } from '../config.js';
import type { ClientRecord, GrantRecord, NewAuditEvent, RefreshTokenRecord, Store } from '../store/port/index.js';

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  /** RFC 9449 §5: `DPoP` when the access token is bound to the key of the request's proof. */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

/** Claims of our RFC 9068 access tokens. */
export interface AccessTokenClaims extends JWTPayload {
  client_id: string;
  scope: string;
  /** The grant (refresh-token family) it came from; absent for client credentials. */
  grant_id?: string;
  /** RFC 9449 §6.1: the confirmation of a DPoP-bound token, the RFC 7638 thumbprint of its key. */
  cnf?: { jkt: string };
}

export interface MintedAccessToken {
  token: string;
  jti: string;
  expiresIn: number;
}

/** A rotation ready to commit: the new tokens are made, nothing is written yet. */
export interface Rotation {
  oldHash: Buffer;
  next: RefreshTokenRecord;
  now: number;
  response: TokenResponse;
  /** `refresh.rotated`, which the commit writes with the rotation (see AuditOnWrite). */
  audit?: NewAuditEvent;
}

/**
 * Commits a rotation atomically (spends the old refresh token, stores the next one, and
 * whatever the transport keeps with them). False when the old token was spent or its grant
 * revoked meanwhile. The response is handed out only after it resolves true.
 */
export type RotationCommit = (rotation: Rotation) => Promise<boolean>;

/**
 * Who revokes a grant, for the audit trail's `grant.revoked`: its `owner` (My devices), an
 * operator (`admin`: the CLI, the dashboard, a client or account deleted) or the `app` itself
 * (RFC 7009). `grant`, when the caller has read it already, spares reading it again.
 */
export interface GrantRevocation extends AuditContext {
  by: 'owner' | 'admin' | 'app';
  grant?: GrantRecord;
}

export interface IntrospectionResponse {
  active: boolean;
  [claim: string]: unknown;
}

export interface TokenService {
  /** A signed RFC 9068 JWT access token for `sub` (a user id, or the client id for client credentials). */
  mintAccessToken(input: { client: ClientRecord; sub: string; scopes: string[]; grantId?: string; dpop?: DpopProof | undefined }): Promise<MintedAccessToken>;
  /** A new opaque refresh token of `grant`, and the record to store (only its hash). */
  newRefreshToken(grant: GrantRecord): { token: string; record: RefreshTokenRecord };
  /** The access and refresh tokens of a grant that has just been created; with `dpop`, the access token is bound to its key. */
  issueForGrant(client: ClientRecord, grant: GrantRecord, scopes: string[], dpop?: DpopProof): Promise<{ response: TokenResponse; refresh?: RefreshTokenRecord }>;
  /**
   * RFC 6749 §6 with rotation: the old refresh token is spent; presenting it again revokes its family.
   * `commit`, when given, performs the rotation in place of `store.refreshTokens.rotate`: a
   * transport that keeps the answer for the device stores it in the same transaction.
   * `dpop`, the key of the request's proof, binds the new access token; a refresh token bound
   * to a key (RFC 9449 §5.0) is refused without a proof of that key.
   */
  refresh(client: ClientRecord, refreshToken: string, scope: string | undefined, commit?: RotationCommit, dpop?: DpopProof, context?: AuditContext): Promise<TokenResponse>;
  /** RFC 7009: revoke a refresh token (its whole grant) or an access token. Unknown tokens are fine. */
  revoke(client: ClientRecord, token: string, tokenTypeHint: string | undefined, context?: AuditContext): Promise<void>;
  /** RFC 7662 introspection. */
  introspect(token: string, tokenTypeHint: string | undefined): Promise<IntrospectionResponse>;
  /** Verify one of our access tokens, including revocation; undefined when it is not (or no longer) valid. */
  verifyAccessToken(token: string): Promise<AccessTokenClaims | undefined>;
  /** Revoke a whole grant (family) and tell its devices; `revocation` says who (default: an operator). */
  revokeGrant(grantId: string, revocation?: GrantRevocation): Promise<boolean>;
}

/** What the token service works with (the options of {@link createTokenService}). */
interface TokenServiceDeps {
  store: Store;
  keys: KeyManager;
  clock: Clock;
  random: RandomSource;
  config: Config;
  events: DeviceEvents;
  audit: AuditTrail;
  observer: CoreObserver;
}

/** The dependencies and the one piece of state every step of the service shares. */
interface TokenContext extends TokenServiceDeps {
  /** The verification key set of the published keys (see verificationKeys). */
  verifier: { kids: string; keySet: ReturnType<typeof createLocalJWKSet> } | undefined;
}

export function createTokenService(deps: TokenServiceDeps): TokenService {
  const { store, keys, clock, random, config, events, observer } = deps;
  const context: TokenContext = { store, keys, clock, random, config, events, audit: deps.audit, observer, verifier: undefined };
  const rotateInStore: RotationCommit = (r) => store.refreshTokens.rotate(r.oldHash, r.next, r.now, r.audit);
  return {
    mintAccessToken: (input) => mintAccessToken(context, input),
    newRefreshToken: (grant) => newRefreshToken(context, grant),
    revokeGrant: (grantId, revocation = { by: 'admin' }) => revokeGrant(context, grantId, revocation),
    verifyAccessToken: (token) => verifyAccessToken(context, token),
    issueForGrant: (client, grant, scopes, dpop) => issueTokens(context, client, grant, scopes, dpop),
    refresh: (client, refreshToken, scope, commit = rotateInStore, dpop, auditContext = {}) => refresh(context, client, refreshToken, scope, commit, dpop, auditContext),
    revoke: (client, token, tokenTypeHint, auditContext = {}) => revoke(context, client, token, tokenTypeHint, auditContext),
    introspect: (token, tokenTypeHint) => introspect(context, token, tokenTypeHint),
  };
}

async function mintAccessToken(
  { keys, clock, random, config }: TokenContext,
  { client, sub, scopes, grantId, dpop }: Parameters<TokenService['mintAccessToken']>[0],
): Promise<MintedAccessToken> {
  const alg = client.accessTokenAlg ?? config.accessTokenAlg;
  const signer = await keys.signingKey(alg);
  const iat = epochSeconds(clock);
  const jti = newSecret(random, 16);
  const claims: AccessTokenClaims = { client_id: client.id, scope: formatScope(scopes) };
  if (grantId) claims.grant_id = grantId;
  // RFC 9449 §6.1: the token is good only with a proof of this key.
  if (dpop) claims.cnf = { jkt: dpop.jkt };
  const token = signCompactJwt(signer, { typ: 'at+jwt' }, {
    ...claims,
    iss: config.publicUrl,
    sub,
    aud: config.accessTokenAudience,
    iat,
    exp: iat + config.accessTokenTtl,
    jti,
  });
  return { token, jti, expiresIn: config.accessTokenTtl };
}

function newRefreshToken({ clock, random, config }: TokenContext, grant: GrantRecord): { token: string; record: RefreshTokenRecord } {
  const token = newSecret(random, 32);
  const now = clock.now();
  const record: RefreshTokenRecord = {
    tokenHash: hashSecret(token),
    grantId: grant.id,
    clientId: grant.clientId,
    createdAt: now,
    expiresAt: now + config.refreshTokenTtl * 1000,
    usedAt: null,
  };
  return { token, record };
}

/**
 * Revoke a grant and tell its devices. Its audit event is written with the revocation:
 * `grant.revoked` for a `revocation`, or the given `event` (reuse detection's own).
 */
async function revokeGrant({ store, clock, events, audit }: TokenContext, grantId: string, revocation: GrantRevocation | NewAuditEvent): Promise<boolean> {
  const event = 'by' in revocation ? await revocationEvent(store, audit, grantId, revocation) : revocation;
  const revoked = await store.grants.revoke(grantId, clock.now(), event);
  if (revoked) events.publish({ type: 'revoked', grantId });
  return revoked;
}

/** `grant.revoked`, read before the revocation: whose device it is and of which client. */
async function revocationEvent(store: Store, audit: AuditTrail, grantId: string, revocation: GrantRevocation): Promise<NewAuditEvent | undefined> {
  const grant = revocation.grant ?? (await store.grants.get(grantId));
  return (
    grant &&
    audit.event({
      type: 'grant.revoked',
      actor: revocation.actor ?? revokedBy(revocation.by, grant),
      userId: grant.userId,
      clientId: grant.clientId,
      grantId,
      ip: revocation.ip,
      scopes: grant.scopes,
      details: { by: revocation.by },
    })
  );
}

/** The actor of a revocation nobody named: the owner, the client; an operator is the trail's default actor. */
function revokedBy(by: GrantRevocation['by'], grant: GrantRecord): AuditActor | undefined {
  if (by === 'owner' && grant.userId !== null) return { type: 'user', id: grant.userId };
  if (by === 'app') return { type: 'client', id: grant.clientId };
  return undefined;
}

// The verification key set, rebuilt only when the published keys change (rotation, retirement):
// building it imports every key, which costs more than the signature check itself.
async function verificationKeys(context: TokenContext) {
  const jwks = await context.keys.jwks();
  const kids = jwks.keys.map((k) => k.kid).join(' ');
  if (context.verifier?.kids !== kids) context.verifier = { kids, keySet: createLocalJWKSet(jwks) };
  return context.verifier.keySet;
}

async function verifyAccessToken(context: TokenContext, token: string): Promise<AccessTokenClaims | undefined> {
  const { store, clock, config } = context;
  if (token.length > 8192 || token.split('.').length !== 3) return undefined;
  try {
    const { payload } = await jwtVerify<AccessTokenClaims>(token, await verificationKeys(context), {
      issuer: config.publicUrl,
      typ: 'at+jwt',
      currentDate: new Date(clock.now()),
      algorithms: ['ES256', 'RS256'],
    });
    if (typeof payload.jti !== 'string' || (await store.accessTokens.isRevoked(payload.jti))) return undefined;
    if (payload.grant_id) {
      const grant = await store.grants.get(payload.grant_id);
      if (!grant || grant.revokedAt !== null) return undefined;
    }
    return payload;
  } catch (err) {
    if (err instanceof joseErrors.JOSEError) return undefined;
    throw err;
  }
}

async function findRefreshToken({ store }: TokenContext, token: string) {
  if (token.length > 512) return undefined;
  const found = await store.refreshTokens.getWithGrant(hashSecret(token));
  return found && { record: found.token, grant: found.grant, accountDisabled: found.accountDisabled };
}

/** The access token, and the refresh token when the client may refresh, of a grant just created. */
async function issueTokens(context: TokenContext, client: ClientRecord, grant: GrantRecord, scopes: string[], dpop: DpopProof | undefined) {
  const access = await mintAccessToken(context, { client, sub: grant.userId ?? client.id, scopes, grantId: grant.id, dpop });
  const response: TokenResponse = {
    access_token: access.token,
    token_type: tokenType(dpop),
    expires_in: access.expiresIn,
    scope: formatScope(scopes),
  };
  if (!client.grantTypes.includes('refresh_token')) return { response };
  const refresh = newRefreshToken(context, grant);
  response.refresh_token = refresh.token;
  return { response, refresh: refresh.record };
}

/** RFC 6749 §6 with rotation: checks the refresh token, detects its reuse, and rotates it. */
async function refresh(
  context: TokenContext,
  client: ClientRecord,
  refreshToken: string,
  scope: string | undefined,
  commit: RotationCommit,
  dpop: DpopProof | undefined,
  auditContext: AuditContext,
): Promise<TokenResponse> {
  const found = await findRefreshToken(context, refreshToken);
  const invalid = new OAuthError('invalid_grant', 'refresh token is invalid, expired or revoked');
  if (!found || found.record.clientId !== client.id || found.grant.revokedAt !== null) throw invalid;
  const { record, grant } = found;
  // RFC 9449 §5.0: checked before reuse detection, so whoever holds a bound token but not its
  // key can neither use it nor end the family of the device that has both.
  assertRefreshBinding(grant, dpop);
  const now = context.clock.now();
  if (record.usedAt !== null) {
    // RFC 9700 §4.14.2: a spent refresh token came back, so one of the two holders is an
    // attacker; end the whole family.
    return endFamilyOnReuse(context, grant, invalid, auditContext);
  }
  if (record.expiresAt <= now) throw invalid;
  // A disabled account keeps its devices paired, but they get no new tokens until it is enabled
  // (`kalm user enable`); the token is not spent, so the device may try again then.
  if (found.accountDisabled) {
    throw new OAuthError('invalid_grant', 'the account this device is paired to is disabled');
  }
  const scopes = narrowedScopes(grant, scope);
  const access = await mintAccessToken(context, { client, sub: grant.userId ?? client.id, scopes, grantId: grant.id, dpop });
  const rotation = rotate(context, grant, record, now, scopes, access, tokenType(dpop));
  rotation.audit = context.audit.event({
    type: 'refresh.rotated',
    actor: { type: 'client', id: client.id },
    userId: grant.userId,
    clientId: client.id,
    grantId: grant.id,
    ip: auditContext.ip,
    scopes,
  });
  if (!(await commit(rotation))) {
    // Spent by a concurrent request between our read and our write: the same reuse.
    return endFamilyOnReuse(context, grant, invalid, auditContext);
  }
  return rotation.response;
}

/** The scopes a refresh asks for: all of the grant's when `scope` is absent. */
function narrowedScopes(grant: GrantRecord, scope: string | undefined): string[] {
  const requested = parseScope(scope);
  // RFC 6749 §6: the requested scope may narrow, never widen, what was granted.
  if (!isSubset(requested, grant.scopes)) {
    throw new OAuthError('invalid_scope', 'the requested scope exceeds the scope originally granted');
  }
  return requested.length > 0 ? requested : grant.scopes;
}

/** The rotation to commit: the next refresh token of the family, and the response carrying it. */
function rotate(
  context: TokenContext,
  grant: GrantRecord,
  spent: RefreshTokenRecord,
  now: number,
  scopes: string[],
  access: MintedAccessToken,
  tokenType: TokenResponse['token_type'],
): Rotation {
  const next = newRefreshToken(context, grant);
  const response: TokenResponse = {
    access_token: access.token,
    token_type: tokenType,
    expires_in: access.expiresIn,
    scope: formatScope(scopes),
    refresh_token: next.token,
  };
  return { oldHash: spent.tokenHash, next: next.record, now, response };
}

/**
 * A spent refresh token was presented again: revoke its whole grant (family), then refuse.
 * `refresh.reuse_detected` is written with the revocation, once however many requests race.
 */
async function endFamilyOnReuse(context: TokenContext, grant: GrantRecord, invalid: OAuthError, auditContext: AuditContext): Promise<never> {
  await revokeGrant(
    context,
    grant.id,
    context.audit.event({
      type: 'refresh.reuse_detected',
      actor: { type: 'client', id: grant.clientId },
      userId: grant.userId,
      clientId: grant.clientId,
      grantId: grant.id,
      // Where the spent token came back from: one of the two holders is an attacker.
      ip: auditContext.ip,
      details: { familyRevoked: true },
    }),
  );
  context.observer.refreshReuseDetected(grant.clientId);
  throw invalid;
}

/** RFC 7009: revoke a refresh token (its whole grant) or an access token. Unknown tokens are fine. */
async function revoke(context: TokenContext, client: ClientRecord, token: string, tokenTypeHint: string | undefined, auditContext: AuditContext): Promise<void> {
  // RFC 7009 §2.1: the hint only decides which kind is looked up first.
  if (tokenTypeHint === 'access_token') {
    if (!(await revokeAccessToken(context, client, token))) await revokeRefreshToken(context, client, token, auditContext);
  } else if (!(await revokeRefreshToken(context, client, token, auditContext))) {
    await revokeAccessToken(context, client, token);
  }
}

/** False when `token` is none of our refresh tokens; one of another client's is left alone. */
async function revokeRefreshToken(context: TokenContext, client: ClientRecord, token: string, auditContext: AuditContext): Promise<boolean> {
  const found = await findRefreshToken(context, token);
  if (!found) return false;
  if (found.record.clientId === client.id) await revokeGrant(context, found.grant.id, { by: 'app', ...auditContext, grant: found.grant });
  return true;
}

/** False when `token` is none of our valid access tokens; one of another client's is left alone. */
async function revokeAccessToken(context: TokenContext, client: ClientRecord, token: string): Promise<boolean> {
  const claims = await verifyAccessToken(context, token);
  if (!claims) return false;
  if (claims.client_id === client.id && claims.jti && claims.exp) {
    await context.store.accessTokens.revoke(claims.jti, claims.exp * 1000);
  }
  return true;
}

/** RFC 7662 introspection: the hint decides which kind is looked up first. */
async function introspect(context: TokenContext, token: string, tokenTypeHint: string | undefined): Promise<IntrospectionResponse> {
  const order = tokenTypeHint === 'refresh_token' ? [introspectRefreshToken, introspectAccessToken] : [introspectAccessToken, introspectRefreshToken];
  for (const attempt of order) {
    const result = await attempt(context, token);
    if (result) return result;
  }
  // RFC 7662 §2.2: nothing but `active: false` about a token that is not active.
  return { active: false };
}

async function introspectAccessToken(context: TokenContext, token: string): Promise<IntrospectionResponse | undefined> {
  const claims = await verifyAccessToken(context, token);
  if (!claims) return undefined;
  const { iss, sub, aud, exp, iat, jti, client_id, scope, cnf } = claims;
  // RFC 9449 §6.2: a bound token's confirmation, and its type.
  if (cnf) return { active: true, token_type: 'DPoP', scope, client_id, sub, aud, iss, exp, iat, jti, cnf: { jkt: cnf.jkt } };
  return { active: true, token_type: 'Bearer', scope, client_id, sub, aud, iss, exp, iat, jti };
}

async function introspectRefreshToken(context: TokenContext, token: string): Promise<IntrospectionResponse | undefined> {
  const found = await findRefreshToken(context, token);
  if (!found || found.grant.revokedAt !== null || found.record.usedAt !== null) return undefined;
  if (found.record.expiresAt <= context.clock.now()) return undefined;
  return {
    active: true,
    scope: formatScope(found.grant.scopes),
    client_id: found.record.clientId,
    sub: found.grant.userId ?? found.record.clientId,
    iss: context.config.publicUrl,
    exp: Math.floor(found.record.expiresAt / 1000),
    iat: Math.floor(found.record.createdAt / 1000),
    // RFC 9449 §5.0: the key a public client's refresh token is bound to.
    ...(found.grant.dpopJkt !== null && { cnf: { jkt: found.grant.dpopJkt } }),
  };
}

/** RFC 9449 §5: the token type of an access token minted with or without a proof. */
function tokenType(dpop: DpopProof | undefined): TokenResponse['token_type'] {
  return dpop ? 'DPoP' : 'Bearer';
}
