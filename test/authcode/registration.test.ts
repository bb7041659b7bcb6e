import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { kalmCli } from '../helpers/kalm-cli.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { PageClient } from './support.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const kalm = (...args: string[]) => kalmCli(server.dataDir, ...args);

async function issueToken(options: { expiresIn?: number; uses?: number; ownerUserId?: string | null } = {}) {
  const { token } = await server.core.registration.issueInitialAccessToken({
    ownerUserId: options.ownerUserId ?? null,
    expiresIn: options.expiresIn ?? 3600,
    uses: options.uses ?? 1,
  });
  return token;
}

function register(metadata: unknown, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  return fetch(`${server.url}/register`, { method: 'POST', headers, body: JSON.stringify(metadata) });
}

const SPA = {
  client_name: 'Valuations SPA',
  redirect_uris: ['https://app.example.com/callback'],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  scope: 'valuate:read valuate:write',
};

describe('RFC 7591 dynamic registration', () => {
  it('refuses a registration without an initial access token with 401', async () => {
    const res = await register(SPA);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses a registration with an unknown initial access token with 401', async () => {
    const res = await register(SPA, 'not-a-token-we-issued');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
  });

  it('refuses an initial access token once it has expired', async () => {
    const token = await issueToken({ expiresIn: 60 });
    server.clock.advance(60_000);
    const res = await register(SPA, token);
    expect(res.status).toBe(401);
  });

  it('registers a public client, answers 201 with the client information, and spends a single-use token', async () => {
    const token = await issueToken();
    const res = await register(SPA, token);
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      client_name: 'Valuations SPA',
      redirect_uris: ['https://app.example.com/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'valuate:read valuate:write',
    });
    expect(body).not.toHaveProperty('client_secret');
    expect(body.client_id_issued_at).toBe(Math.floor(server.clock.now() / 1000));
    const stored = await server.core.clients.get(body.client_id as string);
    expect(stored).toMatchObject({ type: 'public', name: 'Valuations SPA' });
    expect((await register(SPA, token)).status).toBe(401);
  });

  it('answers invalid_redirect_uri for a plain-http redirect URI off the local machine, without spending the token', async () => {
    const token = await issueToken();
    const bad = await register({ ...SPA, redirect_uris: ['http://app.example.com/callback'] }, token);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_redirect_uri' });
    const fragment = await register({ ...SPA, redirect_uris: ['https://app.example.com/cb#x'] }, token);
    expect(await fragment.json()).toMatchObject({ error: 'invalid_redirect_uri' });
    expect((await register(SPA, token)).status).toBe(201);
  });

  it('answers invalid_client_metadata for unsupported or inconsistent metadata', async () => {
    const token = await issueToken({ uses: 10 });
    const cases: unknown[] = [
      { ...SPA, response_types: ['token'] },
      { ...SPA, grant_types: ['implicit'] },
      { ...SPA, grant_types: ['client_credentials'] }, // a public client
      { ...SPA, token_endpoint_auth_method: 'private_key_jwt' },
      { ...SPA, scope: 'valuate:read launch:missiles' },
      { ...SPA, scope: undefined },
      { ...SPA, redirect_uris: 'https://app.example.com/callback' },
      ['not', 'an', 'object'],
    ];
    for (const metadata of cases) {
      const res = await register(metadata, token);
      expect(res.status, JSON.stringify(metadata)).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_client_metadata' });
    }
    const notJson = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"client_name": ',
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });

  it('registers a confidential client whose secret works for client credentials', async () => {
    const token = await issueToken();
    const res = await register({ client_name: 'Nightly export', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_post', scope: 'billing:read' }, token);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { client_id: string; client_secret: string; client_secret_expires_at: number; response_types: string[] };
    expect(body.client_secret_expires_at).toBe(0);
    expect(body.response_types).toEqual([]);
    const tokenRes = await server.post('/token', { grant_type: 'client_credentials', client_id: body.client_id, client_secret: body.client_secret });
    expect(tokenRes.status).toBe(200);
    expect(await tokenRes.json()).toMatchObject({ scope: 'billing:read' });
  });

  it('registers through the unmodified openid-client with a token from `kalm iat create`; the client shows in `kalm client list` and belongs to the owner', async () => {
    const owner = await server.core.users.create({ username: 'dana', password: 'correct horse battery', role: 'developer' });
    const { stdout } = await kalm('iat', 'create', '--owner', 'dana', '--expires-in', '600', '--json');
    const issued = JSON.parse(stdout) as { initial_access_token: string; owner: string };
    expect(issued.owner).toBe('dana');
    const config = await client.dynamicClientRegistration(
      new URL(server.url),
      { client_name: 'CLI tool', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', application_type: 'native', scope: 'valuate:read' },
      client.None(),
      { initialAccessToken: issued.initial_access_token, execute: [client.allowInsecureRequests] },
    );
    const clientId = config.clientMetadata().client_id;
    const list = JSON.parse((await kalm('client', 'list', '--json')).stdout) as Array<{ id: string; name: string; ownerUserId: string | null }>;
    expect(list).toContainEqual(expect.objectContaining({ id: clientId, name: 'CLI tool', ownerUserId: owner.id }));
    const owned = await server.core.applications.listOwned(owner);
    expect(owned.map((a) => [a.client.id, a.profile?.kind, a.profile?.registeredVia])).toEqual([[clientId, 'mobile', 'register']]);
    const pages = new PageClient(server);
    await pages.signIn('dana', 'correct horse battery');
    const listing = await (await pages.get('/apps')).text();
    expect(listing).toContain(clientId);
    expect(listing).toContain('through POST /register');
    // The raw token never lands in the database or the logs.
    expect(server.logText()).not.toContain(issued.initial_access_token);
  });
});
