import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import * as oauth from 'oauth4webapi';
import type { Page } from 'playwright-core';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { loopbackReceiver } from './support.js';

// The unmodified openid-client v6 and oauth4webapi against the server, with the person's part
// (sign-in, consent with one scope unticked) done in real Chromium.
let server: TestServer;
let browser: TestBrowser;
let page: Page;
let receiver: Awaited<ReturnType<typeof loopbackReceiver>>;
let cli: string;
let user: { id: string; username: string; password: string };
let redirectUri: string;

beforeAll(async () => {
  [server, browser, receiver] = await Promise.all([startTestServer(), launchBrowser(), loopbackReceiver()]);
  // A native CLI tool: public, registered with a port-less loopback redirect URI (RFC 8252 §7.3).
  ({ clientId: cli } = await server.createClient({
    name: 'Kalm CLI',
    grantTypes: [GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken],
    scopes: ['valuate:read', 'valuate:write', 'billing:read'],
    redirectUris: ['http://127.0.0.1/callback'],
  }));
  redirectUri = `http://127.0.0.1:${receiver.port}/callback`;
  user = await server.createUser('erin');
  page = await browser.newPage();
});
afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await server?.stop();
});

async function signInOnPage() {
  expect(new URL(page.url()).pathname).toBe('/signin');
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('authorization code + PKCE with openid-client in Chromium', () => {
  let config: client.Configuration;
  let tokens: client.TokenEndpointResponse;

  it('signs in, grants all but one scope, and openid-client redeems the code', async () => {
    config = await client.discovery(new URL(server.url), cli, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'valuate:read valuate:write billing:read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = receiver.next();
    await page.goto(url.href);
    await signInOnPage();
    expect(new URL(page.url()).pathname).toBe('/authorize/continue');
    await expect(page.locator('input[name="scope"]').count()).resolves.toBe(3);
    await page.locator('input[name="scope"][value="valuate:write"]').uncheck();
    await browser.screenshot(page, 'authcode-consent');
    await page.getByRole('button', { name: 'Allow selected' }).click();
    const back = await callback;
    await page.waitForURL((u) => u.port === String(receiver.port));
    expect(back.searchParams.get('iss')).toBe(server.core.config.publicUrl);
    expect(back.searchParams.get('state')).toBe(state);

    // oauth4webapi checks the same authorization response (state, iss, no error).
    const issuer = new URL(server.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    expect(oauth.validateAuthResponse(as, { client_id: cli }, back, state).get('code')).toBe(back.searchParams.get('code'));

    tokens = await client.authorizationCodeGrant(config, back, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.token_type).toBe('bearer');
    expect(tokens.scope).toBe('valuate:read billing:read');
    expect(tokens.refresh_token).toEqual(expect.any(String));
    const claims = await server.core.tokens.verifyAccessToken(tokens.access_token);
    expect(claims).toMatchObject({ sub: user.id, client_id: cli, scope: 'valuate:read billing:read' });
  });

  it('refreshes with rotation through openid-client; the spent refresh token is refused', async () => {
    const next = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(next.refresh_token).toEqual(expect.any(String));
    expect(next.refresh_token).not.toBe(tokens.refresh_token);
    expect(next.scope).toBe('valuate:read billing:read');
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('asks again after the grant was revoked for refresh token reuse, and oauth4webapi runs the whole flow', async () => {
    const issuer = new URL(server.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    const c: oauth.Client = { client_id: cli };
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      client_id: cli,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'valuate:read valuate:write billing:read',
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    }).toString();
    const callback = receiver.next();
    await page.goto(url.href);
    // The reuse above revoked the grant, so the remembered consent no longer counts.
    expect(new URL(page.url()).pathname).toBe('/authorize');
    await page.locator('input[name="scope"][value="valuate:write"]').uncheck();
    await page.getByRole('button', { name: 'Allow selected' }).click();
    const back = await callback;
    const params = oauth.validateAuthResponse(as, c, back, state);
    const response = await oauth.authorizationCodeGrantRequest(as, c, oauth.None(), params, redirectUri, verifier, { [oauth.allowInsecureRequests]: true });
    const result = await oauth.processAuthorizationCodeResponse(as, c, response);
    expect(result.scope).toBe('valuate:read billing:read');
    const refreshed = await oauth.processRefreshTokenResponse(
      as,
      c,
      await oauth.refreshTokenGrantRequest(as, c, oauth.None(), result.refresh_token!, { [oauth.allowInsecureRequests]: true }),
    );
    expect(refreshed.refresh_token).not.toBe(result.refresh_token);
  });

  it('right after signing in shows the consent screen with the remembered choices ticked', async () => {
    await page.goto(`${server.url}/devices`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'valuate:read valuate:write billing:read',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'again',
    });
    const callback = receiver.next();
    await page.goto(url.href);
    await signInOnPage();
    // The redirect chain from the sign-in form may not end at the app (form-action 'self'),
    // so the screen shows once more, with what the person granted last time ticked.
    expect(new URL(page.url()).pathname).toBe('/authorize/continue');
    await expect(page.locator('input[name="scope"][value="valuate:read"]').isChecked()).resolves.toBe(true);
    await expect(page.locator('input[name="scope"][value="valuate:write"]').isChecked()).resolves.toBe(false);
    await page.getByRole('button', { name: 'Allow selected' }).click();
    const again = await client.authorizationCodeGrant(config, await callback, { pkceCodeVerifier: verifier, expectedState: 'again' });
    expect(again.scope).toBe('valuate:read billing:read');
  });
});

describe('client credentials with openid-client and oauth4webapi', () => {
  it('gets an access token and no refresh token with client_secret_basic, and client_secret_post', async () => {
    const machine = await server.createClient({ name: 'Reports backend', type: 'confidential', grantTypes: [GRANT_TYPES.clientCredentials], scopes: ['billing:read', 'valuate:read'] });
    const config = await client.discovery(new URL(server.url), machine.clientId, undefined, client.ClientSecretBasic(machine.clientSecret!), {
      execute: [client.allowInsecureRequests],
    });
    const tokens = await client.clientCredentialsGrant(config, { scope: 'billing:read' });
    expect(tokens.scope).toBe('billing:read');
    expect(tokens.refresh_token).toBeUndefined();
    expect(await server.core.tokens.verifyAccessToken(tokens.access_token)).toMatchObject({ sub: machine.clientId });
    await expect(client.clientCredentialsGrant(config, { scope: 'organization:admin' })).rejects.toMatchObject({ error: 'invalid_scope' });

    const issuer = new URL(server.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    const c: oauth.Client = { client_id: machine.clientId };
    const response = await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretPost(machine.clientSecret!), new URLSearchParams(), {
      [oauth.allowInsecureRequests]: true,
    });
    const result = await oauth.processClientCredentialsResponse(as, c, response);
    expect(result.scope).toBe('billing:read valuate:read');
    expect(result.refresh_token).toBeUndefined();
  });

  it('refuses a public client', async () => {
    const config = await client.discovery(new URL(server.url), cli, undefined, client.None(), { execute: [client.allowInsecureRequests] });
    await expect(client.clientCredentialsGrant(config)).rejects.toMatchObject({ error: 'unauthorized_client' });
  });
});
