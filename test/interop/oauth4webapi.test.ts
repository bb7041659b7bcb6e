/**
 * The device flow, refresh, introspection and revocation driven by the unmodified
 * oauth4webapi (v3), whose response processing checks every member it reads, and its
 * RFC 9068 resource-server validation of our access tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { startTestServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let as: oauth.AuthorizationServer;
const http = { [oauth.allowInsecureRequests]: true } as const;

beforeAll(async () => {
  server = await startTestServer();
  server.clock.set(Date.now());
  const issuer = new URL(server.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...http }));
});
afterAll(() => server.stop());

async function deviceAuthorization(client: oauth.Client, auth: oauth.ClientAuth, scope: string) {
  const res = await oauth.deviceAuthorizationRequest(as, client, auth, { scope }, http);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('pragma')).toBe('no-cache');
  return oauth.processDeviceAuthorizationResponse(as, client, res);
}

async function pollOnce(client: oauth.Client, auth: oauth.ClientAuth, deviceCode: string) {
  return oauth.processDeviceCodeResponse(as, client, await oauth.deviceCodeGrantRequest(as, client, auth, deviceCode, http));
}

/** What a resource server does with a bearer token: RFC 9068 validation against our JWKS. */
function validateAtResourceServer(accessToken: string) {
  const request = new Request('https://api.example.test/valuations', { headers: { authorization: `Bearer ${accessToken}` } });
  return oauth.validateJwtAccessToken(as, request, server.core.config.accessTokenAudience, http);
}

describe('interop: oauth4webapi v3', () => {
  it('runs the device flow with client_secret_basic (Basic plus client_id in the body), then refresh, introspection and revocation', async () => {
    const registered = await server.createClient({ type: 'confidential' });
    const client: oauth.Client = { client_id: registered.clientId };
    const auth = oauth.ClientSecretBasic(registered.clientSecret!);

    const authorization = await deviceAuthorization(client, auth, 'valuate:read valuate:write');
    expect(authorization).toMatchObject({ interval: 5, expires_in: 600 });

    const pending = await pollOnce(client, auth, authorization.device_code).catch((err: unknown) => err);
    expect(pending).toBeInstanceOf(oauth.ResponseBodyError);
    expect(pending).toMatchObject({ error: 'authorization_pending', status: 400 });
    expect((pending as oauth.ResponseBodyError).response.headers.get('www-authenticate')).toBeNull();

    const user = await server.createUser();
    await server.core.deviceFlow.approve(authorization.user_code, user.id, ['valuate:read']);
    server.clock.advance(authorization.interval! * 1000);
    const tokens = await pollOnce(client, auth, authorization.device_code);
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'valuate:read', expires_in: 3600 });

    const claims = await validateAtResourceServer(tokens.access_token);
    expect(claims).toMatchObject({ sub: user.id, client_id: registered.clientId, scope: 'valuate:read', iss: as.issuer });

    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      client,
      await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, http),
    );
    expect(refreshed.refresh_token).toEqual(expect.any(String));
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);

    const active = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, refreshed.access_token, http),
    );
    expect(active).toMatchObject({ active: true, client_id: registered.clientId, sub: user.id });

    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, refreshed.refresh_token!, http));
    const inactive = await oauth.processIntrospectionResponse(
      as,
      client,
      await oauth.introspectionRequest(as, client, auth, refreshed.access_token, http),
    );
    expect(inactive).toEqual({ active: false });
    await expect(validateAtResourceServer('not.a.jwt')).rejects.toThrow();
  });

  it('runs the device flow for a public client (auth method none) with RS256 tokens and refresh reuse detection', async () => {
    const registered = await server.createClient({ accessTokenAlg: 'RS256' });
    const client: oauth.Client = { client_id: registered.clientId };
    const auth = oauth.None();
    const authorization = await deviceAuthorization(client, auth, 'billing:read');
    await server.core.deviceFlow.approve(authorization.user_code, (await server.createUser()).id, ['billing:read']);
    const tokens = await pollOnce(client, auth, authorization.device_code);
    expect(await validateAtResourceServer(tokens.access_token)).toMatchObject({ client_id: registered.clientId });

    // Reusing the first refresh token after rotation revokes the family; oauth4webapi sees invalid_grant.
    const refreshOnce = (token: string) =>
      oauth.refreshTokenGrantRequest(as, client, auth, token, http).then((res) => oauth.processRefreshTokenResponse(as, client, res));
    const next = await refreshOnce(tokens.refresh_token!);
    await expect(refreshOnce(tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    await expect(refreshOnce(next.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('authenticates with client_secret_post and sees slow_down with its interval, and expired_token', async () => {
    const registered = await server.createClient({ type: 'confidential' });
    const client: oauth.Client = { client_id: registered.clientId };
    const auth = oauth.ClientSecretPost(registered.clientSecret!);
    const authorization = await deviceAuthorization(client, auth, 'valuate:read');
    await expect(pollOnce(client, auth, authorization.device_code)).rejects.toMatchObject({ error: 'authorization_pending' });
    const slow = await pollOnce(client, auth, authorization.device_code).catch((err: unknown) => err);
    expect(slow).toMatchObject({ error: 'slow_down', cause: { interval: 10 } });
    server.clock.advance(authorization.expires_in * 1000);
    await expect(pollOnce(client, auth, authorization.device_code)).rejects.toMatchObject({ error: 'expired_token' });
  });
});
