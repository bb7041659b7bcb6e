import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { startTestServer, GRANT_TYPES, ALL_SCOPES, type TestServer } from '../helpers/server.js';
import { configFromEnv } from '../../server/src/config.js';
import { createResourceServer, introspect, obtainTokens, type ClientAuth } from './flow.js';

let server: TestServer;
let device: ClientAuth;
let resourceServer: ClientAuth;

beforeAll(async () => {
  server = await startTestServer();
  device = await server.createClient();
  resourceServer = await createResourceServer(server, 'post');
});
afterAll(() => server.stop());

async function getJson(path: string) {
  const res = await fetch(`${server.url}${path}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

async function jwks(): Promise<JWK[]> {
  return ((await getJson('/jwks.json')) as { keys: JWK[] }).keys;
}

async function verify(token: string) {
  // A fresh remote set each time, as a resource server meeting a new kid would fetch again.
  const keySet = createRemoteJWKSet(new URL(`${server.url}/jwks.json`));
  return jwtVerify(token, keySet, { issuer: server.core.config.publicUrl, typ: 'at+jwt', currentDate: new Date(server.clock.now()) });
}

describe('authorization server metadata (RFC 8414)', () => {
  it('serves the same metadata at both well-known paths, with issuer exactly PUBLIC_URL', async () => {
    const oauth = await getJson('/.well-known/oauth-authorization-server');
    const oidc = await getJson('/.well-known/openid-configuration');
    expect(oidc).toEqual(oauth);
    expect(oauth.issuer).toBe(server.core.config.publicUrl);
    expect(String(oauth.issuer).endsWith('/')).toBe(false);
  });

  it('lists every endpoint, grant, scope and client authentication method that works', async () => {
    const meta = await getJson('/.well-known/oauth-authorization-server');
    const base = server.core.config.publicUrl;
    expect(meta).toMatchObject({
      device_authorization_endpoint: `${base}/device_authorization`,
      token_endpoint: `${base}/token`,
      revocation_endpoint: `${base}/revoke`,
      introspection_endpoint: `${base}/introspect`,
      jwks_uri: `${base}/jwks.json`,
    });
    expect(meta.grant_types_supported).toEqual(expect.arrayContaining([GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken]));
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(ALL_SCOPES));
    expect(meta.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['none', 'client_secret_basic', 'client_secret_post']));
    // Each advertised endpoint is really served here (a POST without a body is refused, not 404).
    for (const key of ['device_authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'introspection_endpoint']) {
      const res = await fetch(String(meta[key]).replace(base, server.url), { method: 'POST' });
      expect(res.status, key).not.toBe(404);
      expect(res.status, key).toBeLessThan(500);
    }
  });

  it('takes the issuer from PUBLIC_URL without its trailing slash', async () => {
    expect(configFromEnv({ PUBLIC_URL: 'https://auth.example.test/' }).publicUrl).toBe('https://auth.example.test');
    const other = await startTestServer({ config: { publicUrl: 'https://auth.example.test/' } });
    try {
      const meta = (await (await fetch(`${other.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      expect(meta.issuer).toBe('https://auth.example.test');
      expect(meta.token_endpoint).toBe('https://auth.example.test/token');
    } finally {
      await other.stop();
    }
  });

  it('serves a scope catalogue the operator replaced through SCOPES_FILE', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kalm-scopes-'));
    const file = path.join(dir, 'scopes.json');
    writeFileSync(file, JSON.stringify({ scopes: [{ name: 'thermostat:read', description: 'Read the temperature', permissions: ['Read sensors'] }] }));
    expect(configFromEnv({ SCOPES_FILE: file }).scopesFile).toBe(file);
    const other = await startTestServer({ config: { scopesFile: file } });
    try {
      const meta = (await (await fetch(`${other.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      expect(meta.scopes_supported).toEqual(['thermostat:read']);
      const { clientId } = await other.createClient({ scopes: ['thermostat:read'] });
      const res = await other.post('/device_authorization', { client_id: clientId, scope: 'thermostat:read' });
      expect(res.status).toBe(200);
      await expect(other.createClient({ scopes: ['valuate:read'] })).rejects.toMatchObject({ error: 'invalid_scope' });
    } finally {
      await other.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers /healthz', async () => {
    expect(await getJson('/healthz')).toMatchObject({ status: 'ok' });
  });
});

describe('JWKS and JWT access tokens (RFC 9068)', () => {
  it('publishes an ES256 and an RS256 signing key, each with a kid and no private part', async () => {
    const keys = await jwks();
    const sig = keys.filter((k) => k.use === 'sig');
    expect(sig.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    for (const k of keys) {
      expect(k.kid).toEqual(expect.any(String));
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(k).not.toHaveProperty(secret);
    }
  });

  it('signs with ES256 by default: typ at+jwt and a kid of the JWKS', async () => {
    const tokens = await obtainTokens(server, device);
    const { protectedHeader } = await verify(tokens.access_token);
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect((await jwks()).map((k) => k.kid)).toContain(protectedHeader.kid);
  });

  it('signs with RS256 for a client registered for it', async () => {
    const rsClient = await server.createClient({ accessTokenAlg: 'RS256' });
    const tokens = await obtainTokens(server, rsClient);
    const { protectedHeader, payload } = await verify(tokens.access_token);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    expect(payload.client_id).toBe(rsClient.clientId);
    expect((await introspect(server, resourceServer, tokens.access_token)).active).toBe(true);
  });

  it('signs with RS256 for every client when the server is set to it', async () => {
    const rsServer = await startTestServer({ config: { accessTokenAlg: 'RS256' } });
    try {
      const client = await rsServer.createClient();
      const tokens = await obtainTokens(rsServer, client);
      expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
      const keySet = createRemoteJWKSet(new URL(`${rsServer.url}/jwks.json`));
      await jwtVerify(tokens.access_token, keySet, { currentDate: new Date(rsServer.clock.now()) });
    } finally {
      await rsServer.stop();
    }
  });

  it('keeps the old key published after a rotation until its tokens have expired', async () => {
    const before = await obtainTokens(server, device);
    const oldKid = decodeProtectedHeader(before.access_token).kid;
    await server.core.keys.rotate();
    const after = await obtainTokens(server, device);
    const newKid = decodeProtectedHeader(after.access_token).kid;
    expect(newKid).not.toBe(oldKid);
    const kids = (await jwks()).map((k) => k.kid);
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    await verify(before.access_token);
    await verify(after.access_token);
    expect((await introspect(server, resourceServer, before.access_token)).active).toBe(true);
    // Once every token the old key signed has expired, the key is no longer published.
    server.clock.advance(server.core.config.accessTokenTtl * 1000 + 31_000);
    const later = (await jwks()).map((k) => k.kid);
    expect(later).not.toContain(oldKid);
    expect(later).toContain(newKid);
  });
});
