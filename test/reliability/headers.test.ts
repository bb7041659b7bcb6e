import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { PageClient, type PageResponse } from '../http/verify-client.js';

// Issue 3's header requirements, checked on every HTML page the server renders (including
// its error pages) and on every response that carries or could carry a token.

let server: TestServer;
let publicClient: string;
let confidential: { clientId: string; clientSecret: string };
let webApp: string;
let user: { id: string; username: string; password: string };
let nextHost = 2;
const browser = () => new PageClient(server.url, { localAddress: `127.0.9.${nextHost++}` });

beforeAll(async () => {
  server = await startTestServer({ logLevel: 'warn' });
  publicClient = (await server.createClient({ name: 'Header TV' })).clientId;
  const c = await server.createClient({
    name: 'Header backend',
    type: 'confidential',
    grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken, GRANT_TYPES.clientCredentials],
  });
  confidential = { clientId: c.clientId, clientSecret: c.clientSecret! };
  webApp = (
    await server.createClient({
      name: 'Header web app',
      grantTypes: [GRANT_TYPES.authorizationCode, GRANT_TYPES.refreshToken],
      redirectUris: ['https://app.example/cb'],
    })
  ).clientId;
  const dev = await server.core.users.create({ username: 'headers', password: 'correct horse battery', role: 'developer' });
  user = { id: dev.id, username: 'headers', password: 'correct horse battery' };
});
afterAll(() => server.stop());

/** The script sources a CSP allows: `script-src`, or `default-src` when there is none (CSP3 §6.1). */
function scriptSources(csp: string): string[] {
  const directives = new Map(
    csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([name, ...values]) => [name!.toLowerCase(), values]),
  );
  return directives.get('script-src') ?? directives.get('default-src') ?? ['*'];
}

function expectPageHeaders(res: PageResponse, label: string) {
  expect(String(res.headers['content-type']), label).toMatch(/^text\/html/);
  const csp = String(res.headers['content-security-policy'] ?? '');
  expect(csp, `${label}: CSP`).not.toBe('');
  const scripts = scriptSources(csp);
  expect(scripts, `${label}: script sources`).not.toContain("'unsafe-inline'");
  expect(scripts, `${label}: script sources`).not.toContain("'unsafe-eval'");
  expect(scripts, `${label}: script sources`).not.toContain('*');
  expect(csp, label).toMatch(/frame-ancestors 'none'/);
  expect(String(res.headers['cache-control']), label).toContain('no-store');
  expect(res.headers['referrer-policy'], label).toBe('no-referrer');
  expect(res.headers['x-content-type-options'], label).toBe('nosniff');
}

function expectTokenHeaders(res: Response, label: string) {
  expect(res.headers.get('cache-control'), label).toBe('no-store');
  expect(res.headers.get('pragma'), label).toBe('no-cache');
  expect(res.headers.get('x-content-type-options'), label).toBe('nosniff');
}

async function signIn(b: PageClient) {
  const csrf = await b.csrf('/signin');
  const res = await b.post('/signin', { csrf_token: csrf, username: user.username, password: user.password });
  expect(res.status).toBe(303);
}

async function deviceCode(clientId = publicClient) {
  return (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { device_code: string; user_code: string };
}

describe('headers of every HTML page', () => {
  it('carries a CSP without inline script, frame-ancestors none, no-store, no-referrer and nosniff on the device flow pages', async () => {
    const pages: Array<[string, PageResponse]> = [];
    const b = browser();
    const auth = await deviceCode();
    pages.push(['GET /device', await b.get('/device')]);
    // verification_uri_complete: the redirect to the clean URL, then the confirm page.
    const linked = await b.get(`/device?user_code=${auth.user_code}`);
    expect(linked.status).toBe(303);
    pages.push(['GET /device (confirm a linked code)', await b.get('/device')]);
    pages.push(['POST /device without CSRF (403)', await b.post('/device', { user_code: auth.user_code })]);
    pages.push(['POST /device wrong code (400)', await b.post('/device', { csrf_token: await b.csrf(), user_code: 'BCDF-GHJKC' })]);
    pages.push(['GET /signin', await b.get('/signin')]);
    pages.push(['POST /signin wrong password (401)', await b.post('/signin', { csrf_token: await b.csrf('/signin'), username: user.username, password: 'wrong password' })]);
    await signIn(b);
    await b.post('/device', { csrf_token: await b.csrf(), user_code: auth.user_code });
    pages.push(['GET /device/consent', await b.get('/device/consent')]);
    const decided = await b.post('/device/consent', { csrf_token: await b.csrf('/device/consent'), decision: 'approve', scope: ['valuate:read'] });
    expect(decided.status).toBe(303);
    pages.push(['GET /device/done', await b.get('/device/done')]);
    pages.push(['GET /devices', await b.get('/devices')]);
    pages.push(['GET /apps', await b.get('/apps')]);
    for (const [label, res] of pages) {
      expect(res.status, label).not.toBe(404);
      expectPageHeaders(res, label);
    }
  });

  it('carries them on the 429 page of a limited code entry', async () => {
    const b = browser();
    let res: PageResponse | undefined;
    for (let i = 0; i < 6; i++) res = await b.post('/device', { csrf_token: await b.csrf(), user_code: 'BCDF-GHJKC' });
    expect(res!.status).toBe(429);
    expectPageHeaders(res!, 'POST /device limited (429)');
  });

  it('carries them on the /authorize consent and error pages', async () => {
    const b = browser();
    await signIn(b);
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: webApp,
      redirect_uri: 'https://app.example/cb',
      scope: 'valuate:read',
      state: 'xyz',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const consent = await b.get(`/authorize?${query}`);
    expect(consent.status).toBe(200);
    expectPageHeaders(consent, 'GET /authorize consent');
    const error = await b.get('/authorize?client_id=nobody');
    expect(error.status).toBeGreaterThanOrEqual(400);
    expectPageHeaders(error, 'GET /authorize error page');
  });

  it('carries them on the TV demo page, whose CSP allows only its own script file', async () => {
    const res = await browser().get('/tv');
    expect(res.status).toBe(200);
    expectPageHeaders(res, 'GET /tv');
    expect(scriptSources(String(res.headers['content-security-policy']))).toEqual(["'self'"]);
  });
});

describe('headers of every token response', () => {
  it('answers no-store and Pragma no-cache on device authorization, every /token grant, /introspect and /revoke, success or error', async () => {
    const basic: [string, string] = [confidential.clientId, confidential.clientSecret];
    const checks: Array<[string, Response]> = [];
    const auth = await deviceCode();
    checks.push(['device_authorization 200', await server.post('/device_authorization', { client_id: publicClient })]);
    checks.push(['device_authorization 401', await server.post('/device_authorization', { client_id: 'nobody' })]);
    const poll = () => server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: publicClient });
    checks.push(['token authorization_pending', await poll()]);
    checks.push(['token slow_down', await poll()]);
    await server.core.deviceFlow.approve(auth.user_code, user.id, ['valuate:read']);
    const tokens = await poll();
    expect(tokens.status).toBe(200);
    checks.push(['token device_code 200', tokens]);
    const { refresh_token: refresh, access_token: access } = (await tokens.clone().json()) as Record<string, string>;
    checks.push(['token refresh 200', await server.post('/token', { grant_type: 'refresh_token', refresh_token: refresh!, client_id: publicClient })]);
    checks.push(['token refresh invalid_grant', await server.post('/token', { grant_type: 'refresh_token', refresh_token: 'nope', client_id: publicClient })]);
    checks.push(['token client_credentials 200', await server.post('/token', { grant_type: GRANT_TYPES.clientCredentials, scope: 'valuate:read' }, { basic })]);
    checks.push(['token invalid_client 401', await server.post('/token', { grant_type: GRANT_TYPES.clientCredentials }, { basic: [confidential.clientId, 'wrong'] })]);
    checks.push(['token unsupported_grant_type', await server.post('/token', { grant_type: 'password', client_id: publicClient })]);
    checks.push(['token wrong content type', await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })]);
    checks.push(['token body too large', await server.post('/token', { grant_type: 'x'.repeat(40_000) })]);
    checks.push(['introspect 200', await server.post('/introspect', { token: access! }, { basic })]);
    checks.push(['introspect 401', await server.post('/introspect', { token: access! })]);
    checks.push(['revoke 200', await server.post('/revoke', { token: access!, client_id: publicClient })]);
    for (const [label, res] of checks) expectTokenHeaders(res, `${label} (${res.status})`);
    expect(checks.find(([l]) => l === 'token slow_down')![1].status).toBe(400);
    expect(checks.find(([l]) => l === 'token body too large')![1].status).toBe(413);
  });
});
