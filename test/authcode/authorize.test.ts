import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { csrfOf, PageClient, pkce } from './support.js';

let server: TestServer;
let spa: string;
let user: { id: string; username: string; password: string };
let browser: PageClient;

const REDIRECT = 'https://app.example.com/callback';
const LOOPBACK = 'http://127.0.0.1/callback';

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId: spa } = await server.createClient({
    name: 'Valuations SPA',
    grantTypes: [GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken],
    scopes: ['valuate:read', 'valuate:write', 'billing:read'],
    redirectUris: [REDIRECT, LOOPBACK],
  }));
  user = await server.createUser();
  browser = new PageClient(server);
  await browser.signIn(user.username, user.password);
});
afterAll(() => server.stop());

function authorizePath(params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, v);
  return `/authorize?${query}`;
}

function request(overrides: Record<string, string | undefined> = {}) {
  const { verifier, challenge } = pkce();
  const params = {
    response_type: 'code',
    client_id: spa,
    redirect_uri: REDIRECT,
    scope: 'valuate:read billing:read',
    state: 'st-123',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...overrides,
  };
  return { verifier, params, path: authorizePath(params) };
}

/** Where a response sends the browser, parsed. */
function location(res: Response): URL {
  const value = res.headers.get('location');
  if (!value) throw new Error(`no redirect (status ${res.status})`);
  return new URL(value);
}

/** Run the request up to the redirect back to the client, approving `scopes` on the consent screen. */
async function approve(path: string, scopes: string[], client = browser): Promise<URL> {
  const page = await client.get(path);
  if (page.status === 303) return location(page);
  expect(page.status).toBe(200);
  const form = new URLSearchParams({ csrf_token: csrfOf(await page.text()), decision: 'approve' });
  for (const s of scopes) form.append('scope', s);
  const res = await client.post(path, form);
  expect(res.status).toBe(303);
  return location(res);
}

function redeem(code: string, verifier: string, extra: Record<string, string> = {}) {
  return server.post('/token', { grant_type: 'authorization_code', client_id: spa, code, code_verifier: verifier, redirect_uri: REDIRECT, ...extra });
}

async function expectRedirectError(path: string, error: string, state = 'st-123') {
  const res = await browser.get(path);
  expect(res.status).toBe(303);
  const url = location(res);
  expect(url.origin + url.pathname).toBe(REDIRECT);
  expect(url.searchParams.get('error')).toBe(error);
  expect(url.searchParams.get('error_description')).toEqual(expect.any(String));
  expect(url.searchParams.get('state')).toBe(state);
  expect(url.searchParams.get('iss')).toBe(server.core.config.publicUrl);
  return url;
}

describe('GET /authorize: request checks', () => {
  it('refuses plain PKCE by redirecting invalid_request with state and iss', async () => {
    const { params } = request();
    await expectRedirectError(authorizePath({ ...params, code_challenge_method: 'plain', code_challenge: 'a'.repeat(43) }), 'invalid_request');
  });

  it('refuses a request without PKCE, and one without code_challenge_method', async () => {
    await expectRedirectError(request({ code_challenge: undefined, code_challenge_method: undefined }).path, 'invalid_request');
    await expectRedirectError(request({ code_challenge_method: undefined }).path, 'invalid_request');
  });

  it('answers unsupported_response_type for anything but code', async () => {
    await expectRedirectError(request({ response_type: 'token' }).path, 'unsupported_response_type');
  });

  it('refuses a scope the client is not allowed with invalid_scope', async () => {
    await expectRedirectError(request({ scope: 'valuate:read organization:admin' }).path, 'invalid_scope');
  });

  it('shows an error page and does not redirect when redirect_uri is not registered', async () => {
    for (const redirect of ['https://evil.example.com/callback', `${REDIRECT}/`, 'https://app.example.com/callback?x=1', 'http://127.0.0.1:8000/other']) {
      const res = await browser.get(request({ redirect_uri: redirect }).path);
      expect(res.status, redirect).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      const page = await res.text();
      expect(page).toContain('redirect_uri does not match');
      expect(page).not.toContain('evil.example.com');
    }
  });

  it('shows an error page for an unknown client or a missing redirect_uri when several are registered', async () => {
    const unknown = await browser.get(request({ client_id: 'nope' }).path);
    expect(unknown.status).toBe(400);
    expect(unknown.headers.get('location')).toBeNull();
    const missing = await browser.get(request({ redirect_uri: undefined }).path);
    expect(missing.status).toBe(400);
    expect(missing.headers.get('location')).toBeNull();
  });

  it('shows an error page rather than redirecting when client_id is repeated', async () => {
    const { path } = request();
    const res = await browser.get(`${path}&client_id=other`);
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  it('sends a signed-out person to sign in, coming back to the same request (through /authorize/continue)', async () => {
    const anonymous = new PageClient(server);
    const { path } = request();
    const res = await anonymous.get(path);
    expect(res.status).toBe(303);
    const signIn = new URL(res.headers.get('location')!, server.url);
    expect(signIn.pathname).toBe('/signin');
    expect(signIn.searchParams.get('return_to')).toBe(path.replace('/authorize?', '/authorize/continue?'));
  });

  it('answers login_required to prompt=none when nobody is signed in', async () => {
    const anonymous = new PageClient(server);
    const res = await anonymous.get(request({ prompt: 'none' }).path);
    expect(location(res).searchParams.get('error')).toBe('login_required');
  });
});

describe('metadata', () => {
  it('advertises the authorization and registration endpoints, code + S256 only, the grants and iss support', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const meta = (await (await fetch(`${server.url}${path}`)).json()) as Record<string, unknown>;
      const base = server.core.config.publicUrl;
      expect(meta).toMatchObject({
        authorization_endpoint: `${base}/authorize`,
        registration_endpoint: `${base}/register`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        authorization_response_iss_parameter_supported: true,
        token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
      });
      expect(meta.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'client_credentials', 'refresh_token', GRANT_TYPES.deviceCode]));
    }
  });
});

describe('the authorization code flow over HTTP', () => {
  it('redirects with code, the untouched state and iss, and the code buys tokens for the ticked scopes', async () => {
    const state = 'a b+c/d=é&x';
    const { verifier, path } = request({ state });
    const back = await approve(path, ['billing:read']);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('iss')).toBe(server.core.config.publicUrl);
    const res = await redeem(back.searchParams.get('code')!, verifier);
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as Record<string, string>;
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'billing:read', refresh_token: expect.any(String) });
    const claims = await server.core.tokens.verifyAccessToken(tokens.access_token!);
    expect(claims).toMatchObject({ sub: user.id, client_id: spa, scope: 'billing:read' });
  });

  it('answers invalid_grant to a wrong code_verifier and invalid_request to a missing one', async () => {
    const { verifier, path } = request({ prompt: 'consent' });
    const code = (await approve(path, ['valuate:read'])).searchParams.get('code')!;
    const wrong = await redeem(code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant' });
    const missing = await server.post('/token', { grant_type: 'authorization_code', client_id: spa, code, redirect_uri: REDIRECT });
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
    expect((await redeem(code, verifier)).status).toBe(200);
  });

  it('fails a second use of a code and revokes the tokens issued from the first', async () => {
    const { verifier, path } = request({ prompt: 'consent' });
    const code = (await approve(path, ['valuate:read'])).searchParams.get('code')!;
    const first = (await (await redeem(code, verifier)).json()) as { access_token: string; refresh_token: string };
    expect(await server.core.tokens.verifyAccessToken(first.access_token)).toBeDefined();
    const second = await redeem(code, verifier);
    expect(second.status).toBe(400);
    expect(await second.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await server.core.tokens.verifyAccessToken(first.access_token)).toBeUndefined();
    const refreshed = await server.post('/token', { grant_type: 'refresh_token', client_id: spa, refresh_token: first.refresh_token });
    expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' });
  });

  it('lets exactly one of several simultaneous redemptions through, and then revokes what it got', async () => {
    const { verifier, path } = request({ prompt: 'consent' });
    const code = (await approve(path, ['valuate:read'])).searchParams.get('code')!;
    const answers = await Promise.all(Array.from({ length: 6 }, () => redeem(code, verifier)));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 400, 400, 400, 400, 400]);
    const winner = (await answers.find((r) => r.status === 200)!.json()) as { access_token: string };
    // The losers are replays of the same code: RFC 6749 §4.1.2 says revoke what it issued.
    expect(await server.core.tokens.verifyAccessToken(winner.access_token)).toBeUndefined();
  });

  it('expires a code after 60 seconds (fake clock)', async () => {
    const { verifier, path } = request({ prompt: 'consent' });
    const code = (await approve(path, ['valuate:read'])).searchParams.get('code')!;
    server.clock.advance(60_000);
    const res = await redeem(code, verifier);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('expired') });
  });

  it('binds the code to its redirect URI and its client', async () => {
    const { verifier, path } = request({ prompt: 'consent' });
    const code = (await approve(path, ['valuate:read'])).searchParams.get('code')!;
    const otherUri = await redeem(code, verifier, { redirect_uri: LOOPBACK });
    expect(await otherUri.json()).toMatchObject({ error: 'invalid_grant' });
    const other = await server.createClient({ grantTypes: [GRANT_TYPES.authorizationCode], redirectUris: [REDIRECT] });
    const otherClient = await redeem(code, verifier, { client_id: other.clientId });
    expect(await otherClient.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await redeem(code, verifier)).status).toBe(200);
  });

  it('accepts a loopback redirect URI on any port (RFC 8252 §7.3) and wants the same one at /token', async () => {
    const redirect = 'http://127.0.0.1:53682/callback';
    const { verifier, path } = request({ redirect_uri: redirect, prompt: 'consent' });
    const back = await approve(path, ['valuate:read']);
    expect(back.href.startsWith(`${redirect}?`)).toBe(true);
    const code = back.searchParams.get('code')!;
    const otherPort = await redeem(code, verifier, { redirect_uri: 'http://127.0.0.1:53683/callback' });
    expect(await otherPort.json()).toMatchObject({ error: 'invalid_grant' });
    expect((await redeem(code, verifier, { redirect_uri: redirect })).status).toBe(200);
  });

  it('gives [::1] the same port flexibility, and none to a redirect URI on another path', async () => {
    const v6 = await server.createClient({ grantTypes: [GRANT_TYPES.authorizationCode], scopes: ['valuate:read'], redirectUris: ['http://[::1]:8400/cb'] });
    const ok = await browser.get(request({ client_id: v6.clientId, redirect_uri: 'http://[::1]:61000/cb', scope: 'valuate:read' }).path);
    expect(ok.status).toBe(200);
    const otherPath = await browser.get(request({ client_id: v6.clientId, redirect_uri: 'http://[::1]:61000/cb2', scope: 'valuate:read' }).path);
    expect(otherPath.status).toBe(400);
    expect(otherPath.headers.get('location')).toBeNull();
  });

  it('redirects access_denied with state and iss when the person denies or unticks everything', async () => {
    const { path } = request({ prompt: 'consent' });
    const page = await browser.get(path);
    const csrf = csrfOf(await page.text());
    const forms: Array<Record<string, string>> = [{ csrf_token: csrf, decision: 'deny', scope: 'valuate:read' }, { csrf_token: csrf, decision: 'approve' }];
    for (const form of forms) {
      const back = location(await browser.post(path, form));
      expect(back.searchParams.get('error')).toBe('access_denied');
      expect(back.searchParams.get('state')).toBe('st-123');
      expect(back.searchParams.get('iss')).toBe(server.core.config.publicUrl);
      expect(back.searchParams.get('code')).toBeNull();
    }
  });

  it('refuses a consent form without the CSRF token', async () => {
    const { path } = request({ prompt: 'consent' });
    const res = await browser.post(path, { decision: 'approve', scope: 'valuate:read' });
    expect(res.status).toBe(403);
    expect(res.headers.get('location')).toBeNull();
  });

  it('skips the consent screen for a remembered consent, and prompt=consent shows it again', async () => {
    const fresh = new PageClient(server);
    const person = await server.createUser();
    await fresh.signIn(person.username, person.password);
    const first = request({ scope: 'valuate:read valuate:write' });
    const back = await approve(first.path, ['valuate:read'], fresh);
    expect((await redeem(back.searchParams.get('code')!, first.verifier)).status).toBe(200);

    // Same client, same scopes: straight back with a code for what was granted before.
    const again = request({ scope: 'valuate:read valuate:write' });
    const skipped = await fresh.get(again.path);
    expect(skipped.status).toBe(303);
    const res = await redeem(location(skipped).searchParams.get('code')!, again.verifier);
    expect(await res.json()).toMatchObject({ scope: 'valuate:read' });

    const forced = await fresh.get(request({ scope: 'valuate:read', prompt: 'consent' }).path);
    expect(forced.status).toBe(200);
    expect(await forced.text()).toContain('name="scope" value="valuate:read"');
    // A scope never asked about before needs the screen too.
    expect((await fresh.get(request({ scope: 'billing:read' }).path)).status).toBe(200);
  });

  it('refuses to widen the scope on refresh with invalid_scope', async () => {
    const { verifier, path } = request({ prompt: 'consent' });
    const code = (await approve(path, ['valuate:read'])).searchParams.get('code')!;
    const tokens = (await (await redeem(code, verifier)).json()) as { refresh_token: string };
    const res = await server.post('/token', { grant_type: 'refresh_token', client_id: spa, refresh_token: tokens.refresh_token, scope: 'valuate:read billing:read' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_scope' });
  });

  it('keeps codes out of the logs and stores only their hash', async () => {
    const { path } = request({ prompt: 'consent' });
    const code = (await approve(path, ['valuate:read'])).searchParams.get('code')!;
    expect(server.logText()).not.toContain(code);
    const db = (server.core.store as unknown as { db: import('better-sqlite3').Database }).db;
    const rows = db.prepare('SELECT code_hash FROM authorization_codes').all() as Array<{ code_hash: Buffer }>;
    expect(rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows)).not.toContain(code);
  });
});
