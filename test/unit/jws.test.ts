/**
 * Access tokens are signed with node:crypto (core/jws.ts) and must be JWS that jose, and so
 * any resource server, verifies: for both signing algorithms, with the header RFC 9068 asks for.
 */
import { createPrivateKey, type JsonWebKey } from 'node:crypto';
import { decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { signCompactJwt } from '../../server/src/core/jws.js';

describe('signCompactJwt', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    it(`signs ${alg} tokens that jose verifies with the public key, and no other key`, async () => {
      const pair = await generateKeyPair(alg, { extractable: true });
      const key = createPrivateKey({ key: (await exportJWK(pair.privateKey)) as JsonWebKey, format: 'jwk' });
      const payload = { iss: 'https://as.example', sub: 'user-1', aud: 'https://api.example', iat: 1_700_000_000, exp: 4_000_000_000, scope: 'valuate:read', jti: 'j-1' };
      const token = signCompactJwt({ kid: 'kid-1', alg, key }, { typ: 'at+jwt' }, payload);

      expect(decodeProtectedHeader(token)).toEqual({ alg, typ: 'at+jwt', kid: 'kid-1' });
      const verified = await jwtVerify(token, await importJWK(await exportJWK(pair.publicKey), alg), { typ: 'at+jwt', algorithms: [alg] });
      expect(verified.payload).toEqual(payload);

      const other = await generateKeyPair(alg);
      await expect(jwtVerify(token, other.publicKey)).rejects.toThrow(/signature verification failed/);
      const [header, body, signature] = token.split('.');
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...payload, scope: 'valuate:write' })).toString('base64url')}.${signature}`;
      expect(body).not.toBe(tampered.split('.')[1]);
      await expect(jwtVerify(tampered, pair.publicKey)).rejects.toThrow(/signature verification failed/);
    });
  }
});
