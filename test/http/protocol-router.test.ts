import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { rawRequest } from '../reliability/support/raw-http.js';

// The protocol endpoints are served by one router on node:http (server/src/http/protocol/):
// matched on the path alone, every answer sent with the endpoint's one header set. These tests
// pin the answers of the token and device authorization endpoints (status, body and the headers
// a client or browser relies on), show that a query string changes nothing, and check the
// router's own rules: CORS, OPTIONS, HEAD, other methods, and the hand-over to the pages.

const HEADERS = ['content-type', 'cache-control', 'pragma', 'access-control-allow-origin', 'x-content-type-options', 'www-authenticate'];

let server: TestServer;
let publicClient: string;
let confidential: { clientId: string; clientSecret: string };
let noDeviceGrant: string;

beforeAll(async () => {
  server = await startTestServer();
  publicClient = (await server.createClient()).clientId;
  confidential = (await server.createClient({ type: 'confidential' })) as { clientId: string; clientSecret: string };
  noDeviceGrant = (await server.createClient({ grantTypes: [GRANT_TYPES.refreshToken] })).clientId;
});

afterAll(() => server.stop());

interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string | null>;
}

async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return { status: res.status, body: parsed, headers: Object.fromEntries(HEADERS.map((h) => [h, res.headers.get(h)])) };
}

async function post(body: string, headers: Record<string, string>, path = '/token'): Promise<Answer> {
  return answerOf(await fetch(`${server.url}${path}`, { method: 'POST', headers, body }));
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => ({ ...FORM, authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

async function newDeviceCode(clientId = publicClient): Promise<string> {
  const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
  return ((await res.json()) as { device_code: string }).device_code;
}

/** Send one request to `path` and to `path?x=1`, and expect identical answers: the query string never decides. */
async function expectSameAnswer(body: string, headers: Record<string, string>, path = '/token') {
  const [plain, withQuery] = [await post(body, headers, path), await post(body, headers, `${path}?x=1`)];
  expect(withQuery).toEqual(plain);
  return plain;
}

describe('the device-code poll', () => {
  it('answers authorization_pending, then slow_down with the longer interval, with or without a query string', async () => {
    const [plainCode, queryCode] = [await newDeviceCode(), await newDeviceCode()];
    const poll = (path: string, code: string) => post(form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code: code }), FORM, path);
    const plain = [await poll('/token', plainCode), await poll('/token', plainCode)];
    const withQuery = [await poll('/token?x=1', queryCode), await poll('/token?x=1', queryCode)];
    expect(withQuery).toEqual(plain);
    expect(plain.map((a) => (a.body as { error: string }).error)).toEqual(['authorization_pending', 'slow_down']);
    expect((plain[1]!.body as { interval: number }).interval).toBe(10);
    expect(plain[0]!.headers['cache-control']).toBe('no-store');
    expect(plain[0]!.headers['access-control-allow-origin']).toBe('*');
  });

  it('answers bad polls with their RFC 6749 §5.2 errors', async () => {
    const code = await newDeviceCode();
    const cases: Array<[string, Record<string, string>]> = [
      [form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code: 'not-a-code' }), FORM],
      [form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient }), FORM],
      [form({ grant_type: GRANT_TYPES.deviceCode, device_code: code }), FORM],
      [form({ grant_type: GRANT_TYPES.deviceCode, client_id: 'nobody', device_code: code }), FORM],
      [form({ grant_type: GRANT_TYPES.deviceCode, client_id: noDeviceGrant, device_code: code }), FORM],
      [`grant_type=${encodeURIComponent(GRANT_TYPES.deviceCode)}&client_id=${publicClient}&client_id=${publicClient}`, FORM],
      [form({ grant_type: GRANT_TYPES.deviceCode, device_code: code }), basic(confidential.clientId, 'wrong secret')],
      [form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code: code }), basic(confidential.clientId, confidential.clientSecret)],
      [JSON.stringify({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient }), { 'content-type': 'application/json' }],
      [`grant_type=${encodeURIComponent(GRANT_TYPES.deviceCode)}&pad=${'x'.repeat(20_000)}`, FORM],
      [Array.from({ length: 150 }, (_, i) => `p${i}=1`).join('&'), FORM],
      [form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code: code }), { 'content-type': 'application/x-www-form-urlencoded; charset=koi8-r' }],
    ];
    const answers: Answer[] = [];
    for (const [body, headers] of cases) answers.push(await expectSameAnswer(body, headers));
    expect(answers.map((a) => a.status)).toEqual([400, 400, 401, 401, 400, 400, 401, 400, 400, 413, 413, 415]);
    for (const a of answers) {
      expect(a.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache', 'x-content-type-options': 'nosniff', 'access-control-allow-origin': '*' });
      expect(a.headers['www-authenticate']).toBe(a.status === 401 ? 'Basic realm="kalm"' : null);
    }
  });

  it('hands out tokens for an approved code, and serves the refresh that follows', async () => {
    const user = await server.createUser();
    const res = await server.post('/device_authorization', { client_id: publicClient, scope: 'valuate:read' });
    const { device_code, user_code } = (await res.json()) as { device_code: string; user_code: string };
    await server.core.deviceFlow.approve(user_code, user.id, ['valuate:read']);
    const tokens = await post(form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code }), FORM);
    expect(tokens.status).toBe(200);
    expect(tokens.headers['cache-control']).toBe('no-store');
    const { refresh_token } = tokens.body as { refresh_token: string };
    const refreshed = await post(form({ grant_type: 'refresh_token', client_id: publicClient, refresh_token }), FORM, '/token?x=1');
    expect(refreshed.status).toBe(200);
    expect((refreshed.body as { token_type: string }).token_type).toBe('Bearer');
    const again = await post(form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code }), FORM);
    expect(again.body).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('the other grants of the token endpoint', () => {
  it('answers them with their RFC 6749 §5.2 errors', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      [form({ grant_type: 'password', client_id: publicClient, username: 'a', password: 'b' }), FORM],
      [form({ grant_type: 'refresh_token', client_id: publicClient, refresh_token: 'not-a-token' }), FORM],
      [form({ grant_type: 'refresh_token', client_id: publicClient }), FORM],
      [form({ grant_type: 'client_credentials', client_id: publicClient }), FORM],
      [form({ grant_type: 'client_credentials' }), basic(confidential.clientId, 'wrong secret')],
      [form({ grant_type: 'authorization_code', client_id: publicClient, code: 'nope', code_verifier: 'x'.repeat(43) }), FORM],
      [form({ client_id: publicClient }), FORM],
    ];
    const answers = [];
    for (const [body, headers] of cases) answers.push(await expectSameAnswer(body, headers));
    expect(answers.map((a) => [a.status, (a.body as { error: string }).error])).toEqual([
      [400, 'unsupported_grant_type'],
      [400, 'invalid_grant'],
      [400, 'invalid_request'],
      [400, 'unauthorized_client'],
      [401, 'invalid_client'],
      [400, 'unauthorized_client'],
      [400, 'invalid_request'],
    ]);
    for (const a of answers) expect(a.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache', 'access-control-allow-origin': '*' });
  });
});

describe('the device authorization endpoint', () => {
  const authorize = (body: string, path = '/device_authorization') => post(body, FORM, path);

  it('answers a device authorization request with the same members and headers, with or without a query string', async () => {
    const body = form({ client_id: publicClient, scope: 'valuate:read' });
    const [plain, withQuery] = [await authorize(body), await authorize(body, '/device_authorization?x=1')];
    // The codes are new each time; everything else must match.
    const stable = ({ status, headers, body: json }: Answer) => {
      const { device_code, user_code, verification_uri_complete, ...rest } = json as Record<string, string>;
      return { status, headers, rest, shapes: [typeof device_code, typeof user_code, verification_uri_complete?.endsWith(user_code!)] };
    };
    expect(stable(withQuery)).toEqual(stable(plain));
    expect(stable(plain).shapes).toEqual(['string', 'string', true]);
    expect(plain.status).toBe(200);
    expect(plain.headers['cache-control']).toBe('no-store');
    expect(plain.headers['access-control-allow-origin']).toBe('*');
    expect((plain.body as { push_uri: string }).push_uri).toMatch(/^ws:\/\/.*\/push$/);
    // The code works with the rest of the flow.
    const poll = await post(form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code: (plain.body as { device_code: string }).device_code }), FORM);
    expect(poll.body).toMatchObject({ error: 'authorization_pending' });
  });

  it('answers bad device authorization requests with their RFC 6749 §5.2 errors', async () => {
    const cases: Array<[string, Record<string, string>]> = [
      [form({ scope: 'valuate:read' }), FORM],
      [form({ client_id: 'nobody', scope: 'valuate:read' }), FORM],
      [form({ client_id: publicClient, scope: 'no-such-scope' }), FORM],
      [form({ client_id: noDeviceGrant, scope: 'valuate:read' }), FORM],
      [`client_id=${publicClient}&client_id=${publicClient}`, FORM],
      [form({ scope: 'valuate:read' }), basic(confidential.clientId, 'wrong secret')],
      [form({ client_id: publicClient, client_secret: 'x' }), FORM],
      [JSON.stringify({ client_id: publicClient }), { 'content-type': 'application/json' }],
      [`client_id=${publicClient}&pad=${'x'.repeat(20_000)}`, FORM],
      [form({ client_id: publicClient }), { 'content-type': 'application/x-www-form-urlencoded; charset=koi8-r' }],
    ];
    const answers: Answer[] = [];
    for (const [body, headers] of cases) answers.push(await expectSameAnswer(body, headers, '/device_authorization'));
    expect(answers.map((a) => a.status)).toEqual([401, 401, 400, 400, 400, 401, 401, 400, 413, 415]);
    for (const a of answers) expect(a.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache', 'access-control-allow-origin': '*' });
  });
});

describe('the router', () => {
  const CORS_PATHS = ['/device_authorization', '/token', '/revoke', '/introspect', '/jwks.json', '/.well-known/oauth-authorization-server', '/.well-known/openid-configuration'];

  it('allows any origin on exactly the endpoints browsers on other origins call, and answers their preflight', async () => {
    for (const path of CORS_PATHS) {
      const preflight = await fetch(`${server.url}${path}`, { method: 'OPTIONS' });
      expect(preflight.status, path).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin'), path).toBe('*');
      expect(preflight.headers.get('access-control-allow-methods'), path).toBe('GET, POST');
      expect(preflight.headers.get('access-control-allow-headers'), path).toBe('Authorization, Content-Type, DPoP');
      expect(preflight.headers.get('access-control-max-age'), path).toBe('600');
    }
    for (const path of ['/register', '/healthz']) {
      const res = await fetch(`${server.url}${path}`, { method: 'OPTIONS' });
      expect(res.status, path).toBe(204);
      expect(res.headers.get('access-control-allow-origin'), path).toBeNull();
      expect(res.headers.get('allow'), path).toBe(path === '/register' ? 'POST' : 'GET, HEAD');
    }
    expect((await fetch(`${server.url}/healthz`)).headers.get('access-control-allow-origin')).toBeNull();
    expect((await server.post('/register', {})).headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${server.url}/jwks.json`)).headers.get('access-control-allow-origin')).toBe('*');
  });

  it('keeps each endpoint\'s caching, and nosniff on every answer', async () => {
    const metadata = await fetch(`${server.url}/.well-known/oauth-authorization-server?x=1`);
    expect(metadata.status).toBe(200);
    expect(metadata.headers.get('cache-control')).toBe('public, max-age=300');
    expect((await fetch(`${server.url}/jwks.json`)).headers.get('cache-control')).toBe('public, max-age=60');
    const health = await fetch(`${server.url}/healthz`);
    expect(health.headers.get('cache-control')).toBe('no-store');
    expect(await health.json()).toEqual({ status: 'ok' });
    for (const res of [metadata, health]) expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('tags the metadata and the keys, and answers 304 to a cache that already holds them', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks.json']) {
      const first = await fetch(`${server.url}${path}`);
      const tag = first.headers.get('etag');
      expect(tag, path).toMatch(/^W\/"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
      // A revalidation as a browser sends it (fetch would add `Cache-Control: no-cache` to a bare If-None-Match).
      const again = await fetch(`${server.url}${path}`, { headers: { 'if-none-match': tag!, 'cache-control': 'max-age=0' } });
      expect(again.status, path).toBe(304);
      expect(again.headers.get('etag'), path).toBe(tag);
      expect(again.headers.get('cache-control'), path).toBe(first.headers.get('cache-control'));
      expect(await again.text(), path).toBe('');
      // An end-to-end reload, or a tag of something else, gets the whole answer.
      expect((await fetch(`${server.url}${path}`, { headers: { 'if-none-match': tag!, 'cache-control': 'no-cache' } })).status, path).toBe(200);
      expect((await fetch(`${server.url}${path}`, { headers: { 'if-none-match': 'W/"0-other"', 'cache-control': 'max-age=0' } })).status, path).toBe(200);
    }
    // Token-bearing answers are never stored, so they carry no tag.
    expect((await server.post('/device_authorization', { client_id: publicClient })).headers.get('etag')).toBeNull();
  });

  it('answers HEAD on a GET endpoint with its headers and no body, and any other method with the 404 JSON', async () => {
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await head.text()).toBe('');
    for (const [method, path] of [['GET', '/token'], ['PUT', '/device_authorization'], ['POST', '/jwks.json'], ['DELETE', '/register?x=1']] as const) {
      const res = await answerOf(await fetch(`${server.url}${path}`, { method }));
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.body, `${method} ${path}`).toEqual({ error: 'not_found', error_description: `no route for ${method} ${path.split('?')[0]}` });
      expect(res.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('serves a protocol path in the absolute form, in another case or with a trailing slash, as the Express routes did', async () => {
    const body = Buffer.from(form({ client_id: publicClient, grant_type: 'password' }));
    const host = new URL(server.url).host;
    for (const path of [`http://${host}/token`, '/TOKEN', '/token/', `http://${host}/Token/?x=1`]) {
      const res = await rawRequest(server.url, { method: 'POST', path, headers: FORM, body });
      expect(res.status, path).toBe(400);
      expect(JSON.parse(res.body.toString('utf8')), path).toMatchObject({ error: 'unsupported_grant_type' });
    }
    const keys = await rawRequest(server.url, { method: 'GET', path: `http://${host}/jwks.json?x=1`, headers: {} });
    expect(keys.status).toBe(200);
    expect(keys.headers['cache-control']).toBe('public, max-age=60');
  });

  it('hands every other path to the pages, and logs each protocol request once, without its query string', async () => {
    const page = await fetch(`${server.url}/device`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const nowhere = await fetch(`${server.url}/nowhere?token=x`);
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toEqual({ error: 'not_found', error_description: 'no route for GET /nowhere' });
    const before = server.logLines().length;
    await post(form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code: 'secret-looking' }), FORM, '/token?device_code=secret-looking');
    const lines = server.logLines().slice(before).filter((l) => l.msg === 'request');
    expect(lines).toEqual([expect.objectContaining({ method: 'POST', path: '/token', status: 400 })]);
    expect(typeof lines[0]!.ms).toBe('number');
  });
});
