import { compactDecrypt, compactVerify, errors as joseErrors, importJWK, type CryptoKey, type JWK } from 'jose';
import { OAuthError } from '../core/errors.js';

/** Remembers a proof id until `expiresAt`; false when it was seen before (a replay). */
export type RememberProof = (rid: string, jti: string, expiresAt: number) => Promise<boolean>;

/**
 * How far a proof's `iat` may be from the server's clock, either way, in seconds. Small
 * devices set their clock by SNTP and may be off by a little; a refusal carries
 * `server_time` so a device without a clock can sign its next proof with it.
 */
export const PROOF_MAX_SKEW_SECONDS = 120;
const JTI = /^[\x21-\x7E]{8,128}$/;
const MAX_COMPACT_LENGTH = 4096;

/** The claims every proof and encrypted refresh request carries: bound to the rid, fresh, used once. */
export interface FreshClaims {
  rid: string;
  iat: number;
  jti: string;
}

function readClaims(body: unknown, rid: string): FreshClaims & Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OAuthError('invalid_request', 'proof claims must be a JSON object');
  }
  const claims = body as Record<string, unknown>;
  if (claims.rid !== rid) throw new OAuthError('invalid_request', 'proof "rid" does not match the topic');
  if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) throw new OAuthError('invalid_request', 'proof "iat" must be a number');
  if (typeof claims.jti !== 'string' || !JTI.test(claims.jti)) {
    throw new OAuthError('invalid_request', 'proof "jti" must be 8 to 128 visible ASCII characters');
  }
  return claims as FreshClaims & Record<string, unknown>;
}

/** Refuse stale, future and replayed proofs; remember the `jti` until it would be stale anyway. */
async function assertFreshAndNew(remember: RememberProof, claims: FreshClaims, now: number): Promise<void> {
  const iatMs = claims.iat * 1000;
  if (Math.abs(now - iatMs) > PROOF_MAX_SKEW_SECONDS * 1000) {
    throw new OAuthError('invalid_request', `proof "iat" is more than ${PROOF_MAX_SKEW_SECONDS} s from server time`, {
      server_time: Math.floor(now / 1000),
    });
  }
  if (!(await remember(claims.rid, claims.jti, iatMs + PROOF_MAX_SKEW_SECONDS * 1000))) {
    throw new OAuthError('invalid_request', 'proof "jti" was already used: sign a new proof for every request');
  }
}

/**
 * Verify the token request proof: a compact JWS, ES256, by the key bound to the rid at
 * authorize time, over `{ rid, iat, jti }`. Only the holder of that ephemeral private key can
 * redeem the device code, whoever else reads the broker.
 */
export async function verifyTokenProof(input: { compact: string; rid: string; jwk: JWK; remember: RememberProof; now: number }): Promise<FreshClaims> {
  const compact = input.compact.trim();
  if (compact.length > MAX_COMPACT_LENGTH || compact.split('.').length !== 3) {
    throw new OAuthError('invalid_request', 'the token request must be a compact JWS');
  }
  let payload: Uint8Array;
  try {
    const key = (await importJWK(input.jwk, 'ES256')) as CryptoKey;
    ({ payload } = await compactVerify(compact, key, { algorithms: ['ES256'] }));
  } catch (err) {
    if (err instanceof joseErrors.JOSEError || err instanceof TypeError || err instanceof SyntaxError) {
      throw new OAuthError('invalid_grant', 'the proof is not an ES256 JWS by the key this rid was authorized with');
    }
    throw err;
  }
  const claims = readClaims(parseJson(payload), input.rid);
  await assertFreshAndNew(input.remember, claims, input.now);
  return claims;
}

/** The plaintext of an encrypted refresh request. */
export interface RefreshRequest extends FreshClaims {
  client_id: string;
  refresh_token: string;
  scope?: string;
  /** Where to encrypt the answer; defaults to the key bound to the rid. */
  jwk?: unknown;
}

/**
 * Decrypt a refresh request: a compact JWE (`ECDH-ES+A256KW` / `A256GCM`) to the server's
 * encryption key from the JWKS (`use: "enc"`), whose plaintext is JSON
 * `{ client_id, refresh_token, rid, iat, jti, scope?, jwk? }`. The freshness claims stop a
 * replay of a recorded request from spending (and so revoking, RFC 9700 §4.14.2) the family.
 */
export async function decryptRefreshRequest(input: {
  compact: string;
  rid: string;
  key: CryptoKey;
  remember: RememberProof;
  now: number;
}): Promise<RefreshRequest> {
  const compact = input.compact.trim();
  if (compact.length > MAX_COMPACT_LENGTH || compact.split('.').length !== 5) {
    throw new OAuthError('invalid_request', 'the refresh request must be a compact JWE');
  }
  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(compact, input.key, {
      keyManagementAlgorithms: ['ECDH-ES+A256KW'],
      contentEncryptionAlgorithms: ['A256GCM'],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JOSEError || err instanceof TypeError || err instanceof SyntaxError) {
      throw new OAuthError('invalid_request', 'the refresh request does not decrypt with the server encryption key of /jwks.json');
    }
    throw err;
  }
  const claims = readClaims(parseJson(plaintext), input.rid);
  for (const name of ['client_id', 'refresh_token'] as const) {
    if (typeof claims[name] !== 'string' || (claims[name] as string).length === 0 || (claims[name] as string).length > 512) {
      throw new OAuthError('invalid_request', `"${name}" must be a non-empty string`);
    }
  }
  if (claims.scope !== undefined && (typeof claims.scope !== 'string' || claims.scope.length > 1024)) {
    throw new OAuthError('invalid_request', '"scope" must be a string');
  }
  await assertFreshAndNew(input.remember, claims, input.now);
  return claims as unknown as RefreshRequest;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new OAuthError('invalid_request', 'proof claims are not JSON');
  }
}
