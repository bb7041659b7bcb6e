import { calculateJwkThumbprint, importJWK, type CryptoKey, type JWK } from 'jose';
import { OAuthError } from '../core/errors.js';

/**
 * Largest request payload the bridge reads: 4 KiB. An authorize request with its key is about
 * 250 bytes, a token proof about 350, an encrypted refresh request under 1 KiB. Larger ones are
 * answered `invalid_request` (and the bridge asks the broker for packets of at most 64 KiB, so
 * anything bigger is dropped by the broker before it reaches us).
 */
export const MAX_PAYLOAD_BYTES = 4096;
export const MAX_PACKET_BYTES = 64 * 1024;

const B64URL_COORDINATE = /^[A-Za-z0-9_-]{43}$/;

/** Parse a UTF-8 JSON object payload, or throw `invalid_request`. */
export function parseJsonObject(payload: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new OAuthError('invalid_request', 'payload is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OAuthError('invalid_request', 'payload must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** A string member of `max` characters at most; `optional` allows it to be absent. */
export function readString(body: Record<string, unknown>, name: string, max: number, optional: true): string | undefined;
export function readString(body: Record<string, unknown>, name: string, max: number, optional?: false): string;
export function readString(body: Record<string, unknown>, name: string, max: number, optional = false): string | undefined {
  const value = body[name];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value.length === 0) throw new OAuthError('invalid_request', `"${name}" must be a non-empty string`);
  if (value.length > max) throw new OAuthError('invalid_request', `"${name}" is longer than ${max} characters`);
  return value;
}

/** The device's public key, validated and reduced to its public members. */
export interface DevicePublicKey {
  jwk: JWK;
  thumbprint: string;
  key: CryptoKey;
}

/**
 * Accept only a public EC P-256 JWK (the curve of ES256 and of the ECDH-ES answers).
 * A JWK carrying `d` is refused: the device has just published its private key to the broker.
 */
export async function readDevicePublicKey(value: unknown, name = 'jwk'): Promise<DevicePublicKey> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new OAuthError('invalid_request', `"${name}" must be a JWK object`);
  }
  const given = value as Record<string, unknown>;
  if ('d' in given) throw new OAuthError('invalid_request', `"${name}" contains a private key; send only the public members`);
  if (given.kty !== 'EC' || given.crv !== 'P-256') throw new OAuthError('invalid_request', `"${name}" must be an EC P-256 key`);
  const { x, y } = given;
  if (typeof x !== 'string' || typeof y !== 'string' || !B64URL_COORDINATE.test(x) || !B64URL_COORDINATE.test(y)) {
    throw new OAuthError('invalid_request', `"${name}" needs base64url "x" and "y" of 32 bytes each`);
  }
  const jwk: JWK = { kty: 'EC', crv: 'P-256', x, y };
  let key: CryptoKey;
  try {
    // WebCrypto refuses a point that is not on the curve.
    key = (await importJWK(jwk, 'ES256')) as CryptoKey;
  } catch {
    throw new OAuthError('invalid_request', `"${name}" is not a valid P-256 public key`);
  }
  return { jwk, thumbprint: await calculateJwkThumbprint(jwk), key };
}
