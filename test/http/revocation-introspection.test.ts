import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { createResourceServer, errorOf, introspect, obtainTokens, postAs, refresh, type ClientAuth } from './flow.js';

let server: TestServer;
let device: ClientAuth;
let resourceServer: ClientAuth;

beforeAll(async () => {
  server = await startTestServer();
  device = await server.createClient();
  resourceServer = await createResourceServer(server, 'basic');
});
afterAll(() => server.stop());

function revoke(auth: ClientAuth, token: string, hint?: string) {
  return postAs(server, '/revoke', auth, hint ? { token, token_type_hint: hint } : { token });
}

describe('revocation at POST /revoke (RFC 7009)', () => {
  it('revokes a refresh token, its whole grant, and the access tokens of that grant', async () => {
    const tokens = await obtainTokens(server, device);
    const res = await revoke(device, tokens.refresh_token!, 'refresh_token');
    expect(res.status).toBe(200);
    expect((await errorOf(await refresh(server, device, tokens.refresh_token!))).body.error).toBe('invalid_grant');
    expect(await introspect(server, resourceServer, tokens.access_token)).toEqual({ active: false });
    expect(await introspect(server, resourceServer, tokens.refresh_token!)).toEqual({ active: false });
  });

  it('revokes an access token alone, leaving the refresh token usable', async () => {
    const tokens = await obtainTokens(server, device);
    expect((await revoke(device, tokens.access_token, 'access_token')).status).toBe(200);
    expect(await introspect(server, resourceServer, tokens.access_token)).toEqual({ active: false });
    expect((await refresh(server, device, tokens.refresh_token!)).status).toBe(200);
  });

  it('treats token_type_hint as a hint, not a filter', async () => {
    const a = await obtainTokens(server, device);
    expect((await revoke(device, a.refresh_token!, 'access_token')).status).toBe(200);
    expect((await errorOf(await refresh(server, device, a.refresh_token!))).body.error).toBe('invalid_grant');
    const b = await obtainTokens(server, device);
    expect((await revoke(device, b.access_token, 'refresh_token')).status).toBe(200);
    expect(await introspect(server, resourceServer, b.access_token)).toEqual({ active: false });
    const c = await obtainTokens(server, device);
    expect((await revoke(device, c.access_token, 'no_such_type')).status).toBe(200);
    expect(await introspect(server, resourceServer, c.access_token)).toEqual({ active: false });
  });

  it('answers 200 for an unknown token and for one already revoked', async () => {
    expect((await revoke(device, 'never-issued')).status).toBe(200);
    const tokens = await obtainTokens(server, device);
    expect((await revoke(device, tokens.refresh_token!)).status).toBe(200);
    expect((await revoke(device, tokens.refresh_token!)).status).toBe(200);
    expect((await revoke(device, tokens.access_token)).status).toBe(200);
  });

  it("answers 200 to another client but leaves that client's tokens alone", async () => {
    const tokens = await obtainTokens(server, device);
    const other = await server.createClient();
    expect((await revoke(other, tokens.refresh_token!)).status).toBe(200);
    expect((await revoke(other, tokens.access_token)).status).toBe(200);
    expect((await introspect(server, resourceServer, tokens.access_token)).active).toBe(true);
    expect((await refresh(server, device, tokens.refresh_token!)).status).toBe(200);
  });

  it('answers invalid_request without a token and invalid_client for an unknown client', async () => {
    expect(await errorOf(await postAs(server, '/revoke', device, {}))).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    const res = await server.post('/revoke', { client_id: 'nobody', token: 'x' });
    expect(await errorOf(res)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});

describe('introspection at POST /introspect (RFC 7662)', () => {
  it('describes an active access token', async () => {
    const tokens = await obtainTokens(server, device, 'valuate:read');
    const res = await postAs(server, '/introspect', resourceServer, { token: tokens.access_token });
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      active: true,
      token_type: 'Bearer',
      scope: 'valuate:read',
      client_id: device.clientId,
      sub: tokens.userId,
      iss: server.core.config.publicUrl,
      exp: expect.any(Number),
      iat: expect.any(Number),
    });
  });

  it('describes an active refresh token, whatever the hint', async () => {
    const tokens = await obtainTokens(server, device, 'valuate:read');
    for (const hint of [undefined, 'refresh_token', 'access_token']) {
      expect(await introspect(server, resourceServer, tokens.refresh_token!, hint)).toMatchObject({
        active: true,
        client_id: device.clientId,
        scope: 'valuate:read',
        sub: tokens.userId,
      });
    }
  });

  it('answers exactly {"active":false} for unknown, expired, spent and revoked tokens', async () => {
    const expectInactive = async (token: string) => {
      const res = await postAs(server, '/introspect', resourceServer, { token });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('{"active":false}');
    };
    await expectInactive('never-issued');
    await expectInactive('a.b.c');
    const spent = await obtainTokens(server, device);
    expect((await refresh(server, device, spent.refresh_token!)).status).toBe(200);
    await expectInactive(spent.refresh_token!);
    const expired = await obtainTokens(server, device);
    server.clock.advance(server.core.config.accessTokenTtl * 1000);
    await expectInactive(expired.access_token);
  });

  it('refuses a public client and a wrong secret with 401 invalid_client', async () => {
    const tokens = await obtainTokens(server, device);
    const pub = await errorOf(await postAs(server, '/introspect', device, { token: tokens.access_token }));
    expect(pub).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(pub.wwwAuthenticate).toMatch(/^Basic /);
    const wrong = { ...resourceServer, clientSecret: 'wrong' } as ClientAuth;
    expect((await errorOf(await postAs(server, '/introspect', wrong, { token: tokens.access_token }))).status).toBe(401);
  });
});
