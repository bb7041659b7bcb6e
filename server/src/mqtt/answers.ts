import { CompactEncrypt, importJWK, type CryptoKey, type JWK } from 'jose';

/** Key management and content encryption of every encrypted answer (issue 6). */
export const ANSWER_ALG = 'ECDH-ES+A256KW';
export const ANSWER_ENC = 'A256GCM';

/**
 * Encrypt `body` (JSON) to the device's public key as a compact JWE. ECDH-ES with a fresh
 * ephemeral key per answer: the server cannot read an answer back once it is sent, so
 * keeping it (to send again) keeps no secret the server can use.
 */
export async function encryptAnswer(body: object, deviceJwk: JWK, kid?: string): Promise<string> {
  const key = (await importJWK(deviceJwk, ANSWER_ALG)) as CryptoKey;
  const header = { alg: ANSWER_ALG, enc: ANSWER_ENC, cty: 'json', ...(kid ? { kid } : {}) };
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(body))).setProtectedHeader(header).encrypt(key);
}
