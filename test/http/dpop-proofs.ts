/**
 * DPoP proofs (RFC 9449 §4.2) as a device makes them, for the DPoP black-box tests: a key pair,
 * and proofs of it for a method and URL, each claim overridable so a test can break one rule.
 */
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { accessTokenHash } from '../../server/src/core/dpop.js';
import type { FakeClock } from '../helpers/clock.js';

export interface DpopKey {
  alg: 'ES256' | 'RS256' | 'ES384';
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** RFC 7638 SHA-256 thumbprint: the `cnf.jkt` of tokens bound to this key. */
  jkt: string;
}

export async function dpopKey(alg: DpopKey['alg'] = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

export interface ProofOptions {
  htm?: string;
  /** Seconds since the epoch; default the fake clock's now. */
  iat?: number;
  jti?: string;
  nonce?: string;
  /** The access token presented with the proof: its hash goes in `ath`. */
  accessToken?: string;
  /** Header members replacing the defaults (typ, alg, jwk). */
  header?: Record<string, unknown>;
  /** Claims replacing the defaults. */
  claims?: Record<string, unknown>;
}

/** A proof of `key` for `htu`, dated by `clock`. */
export function proof(key: DpopKey, clock: FakeClock, htu: string, options: ProofOptions = {}): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: options.jti ?? randomUUID(),
    htm: options.htm ?? 'POST',
    htu,
    iat: options.iat ?? Math.floor(clock.now() / 1000),
    ...(options.nonce !== undefined && { nonce: options.nonce }),
    ...(options.accessToken !== undefined && { ath: accessTokenHash(options.accessToken) }),
    ...options.claims,
  };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...options.header } as never)
    .sign(key.privateKey);
}
