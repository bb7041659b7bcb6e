import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../server/src/http/app.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';

// Device-code polls and device authorization requests take a cheaper route than the Express app
// (server/src/http/fast-path.ts).
// These tests send the same requests to the real server and to the bare Express app on the same
// core, and expect the same answers: status, body and the headers a client or browser relies on.

const HEADERS = ['content-type', 'cache-control', 'pragma', 'access-control-allow-origin', 'x-content-type-options', 'www-authenticate'];

let server: TestServer;
let appOnly: Server;
let appUrl: string;
let publicClient: string;
let confidential: { clientId: string; clientSecret: string };
let noDeviceGrant: string;

beforeAll(async () => {
  server = await startTestServer();
  appOnly = createServer(createApp(server.core, server.logger));
  await new Promise<void>((resolve) => appOnly.listen(0, '127.0.0.1', resolve));
  appUrl = `http://127.0.0.1:${(appOnly.address() as AddressInfo).port}`;
  publicClient = (await server.createClient()).clientId;
  confidential = (await server.createClient({ type: 'confidential' })) as { clientId: string; clientSecret: string };
  noDeviceGrant = (await server.createClient({ grantTypes: [GRANT_TYPES.refreshToken] })).clientId;
});

afterAll(async () => {
  appOnly.closeAllConnections();
  await new Promise<void>((resolve) => appOnly.close(() => resolve()));
  await server.stop();
});

interface Answer {
  status: number;
  body: unknown;
  headers: Record<string, string | null>;
}

async function post(base: string, body: string, headers: Record<string, string>, path = '/token'): Promise<Answer> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return { status: res.status, body: parsed, headers: Object.fromEntries(HEADERS.map((h) => [h, res.headers.get(h)])) };
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) => ({ ...FORM, authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

async function newDeviceCode(clientId = publicClient): Promise<string> {
  const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
  return ((await res.json()) as { device_code: string }).device_code;
}

/** Send one request to both routes and expect identical answers. */
async function expectSameAnswer(body: string, headers: Record<string, string>, path = '/token') {
  const [fast, app] = [await post(server.url, body, headers, path), await post(appUrl, body, headers, path)];
  expect(fast).toEqual(app);
  return fast;
}

describe('the device-code poll route', () => {
  it('answers authorization_pending, then slow_down with the longer interval, exactly as the app does', async () => {
    const [forFast, forApp] = [await newDeviceCode(), await newDeviceCode()];
    const poll = (base: string, code: string) =>
      post(base, form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code: code }), FORM);
    const fast = [await poll(server.url, forFast), await poll(server.url, forFast)];
    const app = [await poll(appUrl, forApp), await poll(appUrl, forApp)];
    expect(fast).toEqual(app);
    expect(fast.map((a) => (a.body as { error: string }).error)).toEqual(['authorization_pending', 'slow_down']);
    expect((fast[1]!.body as { interval: number }).interval).toBe(10);
    expect(fast[0]!.headers['cache-control']).toBe('no-store');
    expect(fast[0]!.headers['access-control-allow-origin']).toBe('*');
  });

  it('answers bad polls with the same RFC 6749 §5.2 errors as the app', async () => {
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
    const statuses: number[] = [];
    for (const [body, headers] of cases) statuses.push((await expectSameAnswer(body, headers)).status);
    expect(statuses).toEqual([400, 400, 401, 401, 400, 400, 401, 400, 400, 413, 413, 415]);
  });

  it('hands out tokens for an approved code, and serves the refresh that follows', async () => {
    const user = await server.createUser();
    const res = await server.post('/device_authorization', { client_id: publicClient, scope: 'valuate:read' });
    const { device_code, user_code } = (await res.json()) as { device_code: string; user_code: string };
    await server.core.deviceFlow.approve(user_code, user.id, ['valuate:read']);
    const tokens = await post(server.url, form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code }), FORM);
    expect(tokens.status).toBe(200);
    expect(tokens.headers['cache-control']).toBe('no-store');
    const { refresh_token } = tokens.body as { refresh_token: string };
    const refreshed = await post(server.url, form({ grant_type: 'refresh_token', client_id: publicClient, refresh_token }), FORM);
    expect(refreshed.status).toBe(200);
    expect((refreshed.body as { token_type: string }).token_type).toBe('Bearer');
    const again = await post(server.url, form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code }), FORM);
    expect(again.body).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('the other grants of the token route', () => {
  it('answers them with the same RFC 6749 §5.2 errors as the app', async () => {
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
  });
});

describe('the device authorization route', () => {
  const authorize = (base: string, body: string, headers: Record<string, string> = FORM) => post(base, body, headers, '/device_authorization');

  it('answers a device authorization request with the members and headers the app gives', async () => {
    const body = form({ client_id: publicClient, scope: 'valuate:read' });
    const [fast, app] = [await authorize(server.url, body), await authorize(appUrl, body)];
    // The codes are new each time; everything else must match.
    const stable = ({ status, headers, body: json }: Answer) => {
      const { device_code, user_code, verification_uri_complete, ...rest } = json as Record<string, string>;
      return { status, headers, rest, shapes: [typeof device_code, typeof user_code, verification_uri_complete?.endsWith(user_code!)] };
    };
    expect(stable(fast)).toEqual(stable(app));
    expect(stable(fast).shapes).toEqual(['string', 'string', true]);
    expect(fast.status).toBe(200);
    expect(fast.headers['cache-control']).toBe('no-store');
    expect(fast.headers['access-control-allow-origin']).toBe('*');
    expect((fast.body as { push_uri: string }).push_uri).toMatch(/^ws:\/\/.*\/push$/);
    // The code the fast route issued works with the rest of the flow.
    const poll = await post(server.url, form({ grant_type: GRANT_TYPES.deviceCode, client_id: publicClient, device_code: (fast.body as { device_code: string }).device_code }), FORM);
    expect(poll.body).toMatchObject({ error: 'authorization_pending' });
  });

  it('answers bad device authorization requests with the same RFC 6749 §5.2 errors as the app', async () => {
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
    const statuses: number[] = [];
    for (const [body, headers] of cases) statuses.push((await expectSameAnswer(body, headers, '/device_authorization')).status);
    expect(statuses).toEqual([401, 401, 400, 400, 400, 401, 401, 400, 413, 415]);
  });
});
