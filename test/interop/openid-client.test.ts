/**
 * The device flow driven by the unmodified openid-client (v6) against our server.
 * openid-client waits `interval` seconds of real time before every poll, so the clients
 * here are registered with an interval of 1 s; its official `customFetch` hook moves the
 * server's fake clock by the same second, so the server sees an obedient client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { hashPassword } from '../../server/src/core/secrets.js';
import { startTestServer, GRANT_TYPES, ALL_SCOPES, type TestServer } from '../helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
  // Real-time checks inside the libraries (token expiry) then agree with the fake clock.
  server.clock.set(Date.now());
});
afterAll(() => server.stop());

interface Observed {
  tokenResponses: Array<{ status: number; body: Record<string, unknown>; wwwAuthenticate: string | null }>;
}

/** Discover the server as openid-client does by default (OpenID discovery path) and watch token requests. */
async function configure(clientId: string, auth: client.ClientAuth, onTokenResponse?: (body: Record<string, unknown>) => Promise<void>) {
  const config = await client.discovery(new URL(server.url), clientId, undefined, auth, { execute: [client.allowInsecureRequests] });
  const observed: Observed = { tokenResponses: [] };
  const tokenEndpoint = config.serverMetadata().token_endpoint;
  config[client.customFetch] = async (url, options) => {
    const isToken = url === tokenEndpoint;
    if (isToken) server.clock.advance(1_000); // the second openid-client just waited
    const res = await fetch(url, options as RequestInit);
    if (isToken) {
      const body = (await res.clone().json()) as Record<string, unknown>;
      observed.tokenResponses.push({ status: res.status, body, wwwAuthenticate: res.headers.get('www-authenticate') });
      await onTokenResponse?.(body);
    }
    return res;
  };
  return { config, observed };
}

describe('interop: openid-client v6', () => {
  it('discovers the server, polls through authorization_pending and ends with a JWT that verifies against the JWKS', async () => {
    const { clientId } = await server.createClient({ devicePollInterval: 1 });
    const user = await server.createUser();
    let userCode = '';
    const { config, observed } = await configure(clientId, client.None(), async (body) => {
      // The person approves on the phone after the device's first poll.
      if (body.error === 'authorization_pending') await server.core.deviceFlow.approve(userCode, user.id, ['valuate:read']);
    });
    expect(config.serverMetadata().issuer).toBe(server.core.config.publicUrl);

    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'valuate:read billing:read' });
    userCode = authorization.user_code;
    expect(authorization.interval).toBe(1);
    const tokens = await client.pollDeviceAuthorizationGrant(config, authorization);

    expect(observed.tokenResponses.map((r) => r.body.error ?? 'tokens')).toEqual(['authorization_pending', 'tokens']);
    expect(observed.tokenResponses[0]).toMatchObject({ status: 400, wwwAuthenticate: null });
    expect(tokens.token_type).toBe('bearer'); // openid-client lower-cases it
    expect(tokens.scope).toBe('valuate:read');
    expect(tokens.expiresIn()).toBeGreaterThan(0);

    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: config.serverMetadata().issuer,
      audience: server.core.config.accessTokenAudience,
      typ: 'at+jwt',
    });
    expect(protectedHeader.kid).toEqual(expect.any(String));
    expect(payload).toMatchObject({ sub: user.id, client_id: clientId, scope: 'valuate:read' });

    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    await client.tokenRevocation(config, refreshed.refresh_token!, { token_type_hint: 'refresh_token' });
    await expect(client.refreshTokenGrant(config, refreshed.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('works for a confidential client with client_secret_basic, RS256 tokens and introspection', async () => {
    const { clientId, clientSecret } = await server.createClient({ type: 'confidential', devicePollInterval: 1, accessTokenAlg: 'RS256' });
    const { config } = await configure(clientId, client.ClientSecretBasic(clientSecret!));
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'billing:read' });
    await server.core.deviceFlow.approve(authorization.user_code, (await server.createUser()).id, ['billing:read']);
    const tokens = await client.pollDeviceAuthorizationGrant(config, authorization);

    const jwks = createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!));
    const { protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: server.core.config.publicUrl, typ: 'at+jwt' });
    expect(protectedHeader.alg).toBe('RS256');

    expect(await client.tokenIntrospection(config, tokens.access_token)).toMatchObject({ active: true, client_id: clientId });
    await client.tokenRevocation(config, tokens.access_token);
    expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
  });

  it('stops polling with access_denied when the person denies', async () => {
    const { clientId } = await server.createClient({ devicePollInterval: 1 });
    const { config } = await configure(clientId, client.None());
    const authorization = await client.initiateDeviceAuthorization(config, {});
    await server.core.deviceFlow.deny(authorization.user_code);
    await expect(client.pollDeviceAuthorizationGrant(config, authorization)).rejects.toMatchObject({ error: 'access_denied' });
  });

  it("agrees with our decoding of an awkward id and secret in client_secret_basic (RFC 6749 Appendix B)", async () => {
    const id = 'box:1+2%';
    const secret = 'p@ss w:rd+%&=ü';
    await server.core.store.clients.create({
      id,
      name: 'Awkward box',
      type: 'confidential',
      secretHash: await hashPassword(secret),
      grantTypes: [GRANT_TYPES.deviceCode],
      scopes: ALL_SCOPES,
      redirectUris: [],
      deviceCodeTtl: null,
      devicePollInterval: null,
      accessTokenAlg: null,
      ownerUserId: null,
      createdAt: server.clock.now(),
    });
    const { config } = await configure(id, client.ClientSecretBasic(secret));
    const authorization = await client.initiateDeviceAuthorization(config, { scope: 'valuate:read' });
    expect(authorization.user_code).toMatch(/^[A-Z]{4}-[A-Z]{5}$/);
    expect(await client.tokenIntrospection(config, 'unknown')).toEqual({ active: false });
    const { config: wrong } = await configure(id, client.ClientSecretBasic(`${secret}x`));
    // A 401 with WWW-Authenticate (RFC 6749 §5.2) is surfaced by openid-client as the parsed challenge.
    const refused = await client.initiateDeviceAuthorization(wrong, {}).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(client.WWWAuthenticateChallengeError);
    expect(refused).toMatchObject({ status: 401, cause: [expect.objectContaining({ scheme: 'basic' })] });
  });

  it('also discovers through the RFC 8414 path', async () => {
    const { clientId } = await server.createClient({ grantTypes: [GRANT_TYPES.deviceCode] });
    const config = await client.discovery(new URL(server.url), clientId, undefined, client.None(), {
      algorithm: 'oauth2',
      execute: [client.allowInsecureRequests],
    });
    expect(config.serverMetadata()).toMatchObject({
      issuer: server.core.config.publicUrl,
      device_authorization_endpoint: `${server.core.config.publicUrl}/device_authorization`,
    });
  });
});
