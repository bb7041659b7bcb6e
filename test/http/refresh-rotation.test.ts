import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { createResourceServer, errorOf, introspect, obtainTokens, refresh, type ClientAuth, type Tokens } from './flow.js';

let server: TestServer;
let device: ClientAuth;
let resourceServer: ClientAuth;

beforeAll(async () => {
  server = await startTestServer();
  device = await server.createClient();
  resourceServer = await createResourceServer(server, 'basic');
});
afterAll(() => server.stop());

async function refreshed(token: string, scope?: string): Promise<Tokens> {
  const res = await refresh(server, device, token, scope);
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('pragma')).toBe('no-cache');
  return (await res.json()) as Tokens;
}

describe('refresh token rotation (RFC 6749 §6, RFC 9700 §4.14)', () => {
  it('rotates the refresh token on every use and keeps the subject and grant', async () => {
    const first = await obtainTokens(server, device);
    const second = await refreshed(first.refresh_token!);
    expect(second.refresh_token).toEqual(expect.any(String));
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.scope).toBe(first.scope);
    const [a, b] = [decodeJwt(first.access_token), decodeJwt(second.access_token)];
    expect(b.sub).toBe(first.userId);
    expect(b.grant_id).toBe(a.grant_id);
    expect(b.jti).not.toBe(a.jti);
    const third = await refreshed(second.refresh_token!);
    expect(third.refresh_token).not.toBe(second.refresh_token);
  });

  it('answers invalid_grant to a reused refresh token and revokes the whole family', async () => {
    const first = await obtainTokens(server, device);
    const second = await refreshed(first.refresh_token!);
    const reuse = await errorOf(await refresh(server, device, first.refresh_token!));
    expect(reuse).toMatchObject({ status: 400, body: { error: 'invalid_grant' }, wwwAuthenticate: null });
    // The descendant the legitimate holder got is dead too, and so are the access tokens.
    expect((await errorOf(await refresh(server, device, second.refresh_token!))).body.error).toBe('invalid_grant');
    expect(await introspect(server, resourceServer, second.access_token)).toEqual({ active: false });
    expect(await introspect(server, resourceServer, first.access_token)).toEqual({ active: false });
  });

  it('lets a refresh narrow the scope, and a later refresh without scope gets the original grant back', async () => {
    const first = await obtainTokens(server, device, 'valuate:read billing:read');
    const narrow = await refreshed(first.refresh_token!, 'billing:read');
    expect(narrow.scope).toBe('billing:read');
    expect(decodeJwt(narrow.access_token).scope).toBe('billing:read');
    const full = await refreshed(narrow.refresh_token!);
    expect(full.scope).toBe('valuate:read billing:read');
  });

  it('refuses to widen the scope with invalid_scope, and the refresh token stays usable', async () => {
    const first = await obtainTokens(server, device, 'valuate:read billing:read', ['valuate:read']);
    const wide = await errorOf(await refresh(server, device, first.refresh_token!, 'valuate:read billing:read'));
    expect(wide).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
    const unknown = await errorOf(await refresh(server, device, first.refresh_token!, 'launch:missiles'));
    expect(unknown.body.error).toBe('invalid_scope');
    expect((await refreshed(first.refresh_token!)).scope).toBe('valuate:read');
  });

  it("answers invalid_grant to another client's refresh token without revoking it", async () => {
    const first = await obtainTokens(server, device);
    const thief = await server.createClient();
    expect((await errorOf(await refresh(server, thief, first.refresh_token!))).body.error).toBe('invalid_grant');
    await refreshed(first.refresh_token!);
  });

  it('answers invalid_grant to an unknown or expired refresh token', async () => {
    expect((await errorOf(await refresh(server, device, 'no-such-token'))).body.error).toBe('invalid_grant');
    const first = await obtainTokens(server, device);
    server.clock.advance(server.core.config.refreshTokenTtl * 1000);
    expect((await errorOf(await refresh(server, device, first.refresh_token!))).body.error).toBe('invalid_grant');
  });

  it('answers invalid_request when refresh_token is missing', async () => {
    const res = await server.post('/token', { grant_type: 'refresh_token', client_id: device.clientId });
    expect(await errorOf(res)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('answers unauthorized_client to a client not registered for refresh_token', async () => {
    const deviceOnly = await server.createClient({ grantTypes: [GRANT_TYPES.deviceCode] });
    const res = await refresh(server, deviceOnly, 'anything');
    expect(await errorOf(res)).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
  });

  it('lets exactly one of two racing refreshes with the same token win', async () => {
    const first = await obtainTokens(server, device);
    const responses = await Promise.all([refresh(server, device, first.refresh_token!), refresh(server, device, first.refresh_token!)]);
    expect(responses.map((r) => r.status).sort()).toEqual([200, 400]);
  });
});
