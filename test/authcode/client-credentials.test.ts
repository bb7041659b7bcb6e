import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';

let server: TestServer;
let machine: { clientId: string; clientSecret?: string };

beforeAll(async () => {
  server = await startTestServer();
  machine = await server.createClient({
    name: 'Billing backend',
    type: 'confidential',
    grantTypes: [GRANT_TYPES.clientCredentials],
    scopes: ['valuate:read', 'billing:read'],
  });
});
afterAll(() => server.stop());

const basic = (): [string, string] => [machine.clientId, machine.clientSecret!];

describe('client credentials grant (RFC 6749 §4.4)', () => {
  it('issues an access token for the client itself and no refresh token', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials', scope: 'billing:read' }, { basic: basic() });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', scope: 'billing:read', expires_in: 3600 });
    expect(body).not.toHaveProperty('refresh_token');
    const { payload } = await jwtVerify(body.access_token as string, createRemoteJWKSet(new URL(`${server.url}/jwks.json`)), {
      issuer: server.core.config.publicUrl,
      currentDate: new Date(server.clock.now()),
    });
    expect(payload).toMatchObject({ sub: machine.clientId, client_id: machine.clientId, scope: 'billing:read' });
  });

  it('gives the client its allowed scopes when none are requested, with client_secret_post too', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials', client_id: machine.clientId, client_secret: machine.clientSecret! });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ scope: 'valuate:read billing:read' });
  });

  it('refuses a scope the client is not allowed with invalid_scope', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials', scope: 'billing:read organization:admin' }, { basic: basic() });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('refuses a wrong secret with 401 invalid_client', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, { basic: [machine.clientId, 'wrong'] });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('refuses a public client with unauthorized_client', async () => {
    const { clientId } = await server.createClient({ name: 'SPA' });
    const res = await server.post('/token', { grant_type: 'client_credentials', client_id: clientId });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unauthorized_client' });
  });

  it('refuses a confidential client not registered for the grant with unauthorized_client', async () => {
    const other = await server.createClient({ type: 'confidential', grantTypes: [GRANT_TYPES.deviceCode] });
    const res = await server.post('/token', { grant_type: 'client_credentials' }, { basic: [other.clientId, other.clientSecret!] });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'unauthorized_client' });
  });

  it('ends the token when the grant behind it is revoked', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, { basic: basic() });
    const { access_token } = (await res.json()) as { access_token: string };
    const claims = await server.core.tokens.verifyAccessToken(access_token);
    expect(claims?.grant_id).toEqual(expect.any(String));
    await server.core.tokens.revokeGrant(claims!.grant_id!);
    const introspection = await server.post('/introspect', { token: access_token }, { basic: basic() });
    expect(await introspection.json()).toEqual({ active: false });
  });
});
