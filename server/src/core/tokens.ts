import { SignJWT, jwtVerify, createLocalJWKSet, errors as joseErrors, type JWTPayload } from 'jose';
import { epochSeconds, type Clock } from './clock.js';
import { OAuthError } from './errors.js';
import { formatScope, isSubset, parseScope } from './scopes.js';
import { hashSecret, newSecret, type RandomSource } from './secrets.js';
import type { DeviceEvents } from './events.js';
import type { KeyManager } from './keys.js';
import type { Config } from '../config.js';
import type { ClientRecord, GrantRecord, RefreshTokenRecord, Store } from '../store/port/index.js';

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
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
}

/**
 * Commits a rotation atomically (spends the old refresh token, stores the next one, and
 * whatever the transport keeps with them). False when the old token was spent or its grant
 * revoked meanwhile. The response is handed out only after it resolves true.
 */
export type RotationCommit = (rotation: Rotation) => Promise<boolean>;

export interface IntrospectionResponse {
  active: boolean;
  [claim: string]: unknown;
}

export interface TokenService {
  /** A signed RFC 9068 JWT access token for `sub` (a user id, or the client id for client credentials). */
  mintAccessToken(input: { client: ClientRecord; sub: string; scopes: string[]; grantId?: string }): Promise<MintedAccessToken>;
  /** A new opaque refresh token of `grant`, and the record to store (only its hash). */
  newRefreshToken(grant: GrantRecord): { token: string; record: RefreshTokenRecord };
  /** The access and refresh tokens of a grant that has just been created. */
  issueForGrant(client: ClientRecord, grant: GrantRecord, scopes: string[]): Promise<{ response: TokenResponse; refresh?: RefreshTokenRecord }>;
  /**
   * RFC 6749 §6 with rotation: the old refresh token is spent; presenting it again revokes its family.
   * `commit`, when given, performs the rotation in place of `store.refreshTokens.rotate`: a
   * transport that keeps the answer for the device stores it in the same transaction.
   */
  refresh(client: ClientRecord, refreshToken: string, scope: string | undefined, commit?: RotationCommit): Promise<TokenResponse>;
  /** RFC 7009: revoke a refresh token (its whole grant) or an access token. Unknown tokens are fine. */
  revoke(client: ClientRecord, token: string, tokenTypeHint: string | undefined): Promise<void>;
  /** RFC 7662 introspection. */
  introspect(token: string, tokenTypeHint: string | undefined): Promise<IntrospectionResponse>;
  /** Verify one of our access tokens, including revocation; undefined when it is not (or no longer) valid. */
  verifyAccessToken(token: string): Promise<AccessTokenClaims | undefined>;
  /** Revoke a whole grant (family) and tell its devices. */
  revokeGrant(grantId: string): Promise<boolean>;
}

export function createTokenService(deps: {
  store: Store;
  keys: KeyManager;
  clock: Clock;
  random: RandomSource;
  config: Config;
  events: DeviceEvents;
}): TokenService {
  const { store, keys, clock, random, config, events } = deps;

  async function mintAccessToken({ client, sub, scopes, grantId }: Parameters<TokenService['mintAccessToken']>[0]) {
    const alg = client.accessTokenAlg ?? config.accessTokenAlg;
    const { kid, key } = await keys.signingKey(alg);
    const iat = epochSeconds(clock);
    const jti = newSecret(random, 16);
    const claims: AccessTokenClaims = { client_id: client.id, scope: formatScope(scopes) };
    if (grantId) claims.grant_id = grantId;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg, typ: 'at+jwt', kid })
      .setIssuer(config.publicUrl)
      .setSubject(sub)
      .setAudience(config.accessTokenAudience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + config.accessTokenTtl)
      .setJti(jti)
      .sign(key);
    return { token, jti, expiresIn: config.accessTokenTtl };
  }

  function newRefreshToken(grant: GrantRecord) {
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

  async function revokeGrant(grantId: string): Promise<boolean> {
    const revoked = await store.grants.revoke(grantId, clock.now());
    if (revoked) events.publish({ type: 'revoked', grantId });
    return revoked;
  }

  // The verification key set, rebuilt only when the published keys change (rotation, retirement):
  // building it imports every key, which costs more than the signature check itself.
  let verifier: { kids: string; keySet: ReturnType<typeof createLocalJWKSet> } | undefined;
  async function verificationKeys() {
    const jwks = await keys.jwks();
    const kids = jwks.keys.map((k) => k.kid).join(' ');
    if (verifier?.kids !== kids) verifier = { kids, keySet: createLocalJWKSet(jwks) };
    return verifier.keySet;
  }

  async function verifyAccessToken(token: string): Promise<AccessTokenClaims | undefined> {
    if (token.length > 8192 || token.split('.').length !== 3) return undefined;
    try {
      const { payload } = await jwtVerify<AccessTokenClaims>(token, await verificationKeys(), {
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

  async function findRefreshToken(token: string) {
    if (token.length > 512) return undefined;
    const record = await store.refreshTokens.getByHash(hashSecret(token));
    if (!record) return undefined;
    const grant = await store.grants.get(record.grantId);
    return grant ? { record, grant } : undefined;
  }

  return {
    mintAccessToken,
    newRefreshToken,
    revokeGrant,
    verifyAccessToken,

    async issueForGrant(client, grant, scopes) {
      const access = await mintAccessToken({ client, sub: grant.userId ?? client.id, scopes, grantId: grant.id });
      const response: TokenResponse = {
        access_token: access.token,
        token_type: 'Bearer',
        expires_in: access.expiresIn,
        scope: formatScope(scopes),
      };
      if (!client.grantTypes.includes('refresh_token')) return { response };
      const refresh = newRefreshToken(grant);
      response.refresh_token = refresh.token;
      return { response, refresh: refresh.record };
    },

    async refresh(client, refreshToken, scope, commit = (r: Rotation) => store.refreshTokens.rotate(r.oldHash, r.next, r.now)) {
      const found = await findRefreshToken(refreshToken);
      const invalid = new OAuthError('invalid_grant', 'refresh token is invalid, expired or revoked');
      if (!found || found.record.clientId !== client.id || found.grant.revokedAt !== null) throw invalid;
      const { record, grant } = found;
      const now = clock.now();
      if (record.usedAt !== null) {
        // RFC 9700 §4.14.2: a spent refresh token came back, so one of the two holders is an
        // attacker; end the whole family.
        await revokeGrant(grant.id);
        throw invalid;
      }
      if (record.expiresAt <= now) throw invalid;
      const requested = parseScope(scope);
      // RFC 6749 §6: the requested scope may narrow, never widen, what was granted.
      if (!isSubset(requested, grant.scopes)) {
        throw new OAuthError('invalid_scope', 'the requested scope exceeds the scope originally granted');
      }
      const scopes = requested.length > 0 ? requested : grant.scopes;
      const access = await mintAccessToken({ client, sub: grant.userId ?? client.id, scopes, grantId: grant.id });
      const next = newRefreshToken(grant);
      const response: TokenResponse = {
        access_token: access.token,
        token_type: 'Bearer',
        expires_in: access.expiresIn,
        scope: formatScope(scopes),
        refresh_token: next.token,
      };
      if (!(await commit({ oldHash: record.tokenHash, next: next.record, now, response }))) {
        // Spent by a concurrent request between our read and our write: the same reuse.
        await revokeGrant(grant.id);
        throw invalid;
      }
      return response;
    },

    async revoke(client, token, tokenTypeHint) {
      // RFC 7009 §2.1: the hint only decides which kind is looked up first.
      const asRefresh = async () => {
        const found = await findRefreshToken(token);
        if (!found) return false;
        if (found.record.clientId === client.id) await revokeGrant(found.grant.id);
        return true;
      };
      const asAccess = async () => {
        const claims = await verifyAccessToken(token);
        if (!claims) return false;
        if (claims.client_id === client.id && claims.jti && claims.exp) {
          await store.accessTokens.revoke(claims.jti, claims.exp * 1000);
        }
        return true;
      };
      if (tokenTypeHint === 'access_token') {
        if (!(await asAccess())) await asRefresh();
      } else if (!(await asRefresh())) {
        await asAccess();
      }
    },

    async introspect(token, tokenTypeHint) {
      const asAccess = async (): Promise<IntrospectionResponse | undefined> => {
        const claims = await verifyAccessToken(token);
        if (!claims) return undefined;
        const { iss, sub, aud, exp, iat, jti, client_id, scope } = claims;
        return { active: true, token_type: 'Bearer', scope, client_id, sub, aud, iss, exp, iat, jti };
      };
      const asRefresh = async (): Promise<IntrospectionResponse | undefined> => {
        const found = await findRefreshToken(token);
        if (!found || found.grant.revokedAt !== null || found.record.usedAt !== null) return undefined;
        if (found.record.expiresAt <= clock.now()) return undefined;
        return {
          active: true,
          scope: formatScope(found.grant.scopes),
          client_id: found.record.clientId,
          sub: found.grant.userId ?? found.record.clientId,
          iss: config.publicUrl,
          exp: Math.floor(found.record.expiresAt / 1000),
          iat: Math.floor(found.record.createdAt / 1000),
        };
      };
      const order = tokenTypeHint === 'refresh_token' ? [asRefresh, asAccess] : [asAccess, asRefresh];
      for (const attempt of order) {
        const result = await attempt();
        if (result) return result;
      }
      // RFC 7662 §2.2: nothing but `active: false` about a token that is not active.
      return { active: false };
    },
  };
}
