import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeUserCode } from '../../server/src/core/user-codes.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { PageClient } from '../http/verify-client.js';
import { rawRequest } from './support/raw-http.js';

// A whole device flow with debug logging, through the API and the pages, with every
// kind of failure on the way; then no secret may be found in the log, in any redirect
// Location, or in any error answer.

let server: TestServer;
const secrets = new Map<string, string>();
const locations: string[] = [];
const errorBodies: Array<{ what: string; body: string }> = [];

function secret(kind: string, value: string | undefined) {
  expect(value, kind).toBeTruthy();
  secrets.set(`${kind} #${secrets.size}`, value!);
  return value!;
}

/** POST a form and remember what must be checked: the Location, and the body of an error. */
async function post(path: string, form: Record<string, string>, init: { basic?: [string, string] } = {}) {
  const res = await server.post(path, form, init);
  const body = await res.text();
  const location = res.headers.get('location');
  if (location) locations.push(location);
  if (res.status >= 400) errorBodies.push({ what: `POST ${path} → ${res.status}`, body });
  return { status: res.status, json: (body ? JSON.parse(body) : {}) as Record<string, string> };
}

/** A page client whose answers are recorded like the API's. */
function pageClient() {
  const client = new PageClient(server.url);
  const record = async (what: string, res: Awaited<ReturnType<PageClient['get']>>) => {
    if (res.status >= 400) errorBodies.push({ what, body: res.body });
    for (const cookie of [res.headers['set-cookie'] ?? []].flat()) {
      const value = /=([^;]*)/.exec(cookie)?.[1];
      if (value) secrets.set(`session id #${secrets.size}`, value);
    }
    return res;
  };
  return {
    client,
    get: async (path: string) => record(`GET ${path}`, await client.get(path)),
    post: async (path: string, form: Record<string, string | string[]>) => record(`POST ${path}`, await client.post(path, form)),
  };
}

beforeAll(async () => {
  server = await startTestServer({ logLevel: 'debug' });
});
afterAll(() => server.stop());

describe('secrets hygiene', () => {
  it('keeps device codes, user codes, tokens, client secrets, passwords and session ids out of logs, redirects and error answers', async () => {
    const { clientId, clientSecret } = await server.createClient({ type: 'confidential', name: 'Hygiene TV' });
    secret('client secret', clientSecret);
    const password = secret('password', 'a long and secret passphrase');
    const wrongPassword = secret('wrong password', 'an almost right passphrase');
    await server.createUser('alice', password);
    const basic: [string, string] = [clientId, clientSecret!];

    // The device asks; a wrong client secret and a secret sent twice are refused.
    const auth = (await post('/device_authorization', { scope: 'valuate:read billing:read' }, { basic })).json;
    const deviceCode = secret('device code', auth.device_code);
    secret('user code', auth.user_code);
    secret('user code, normalised', normalizeUserCode(auth.user_code!));
    expect((await post('/device_authorization', {}, { basic: [clientId, secret('wrong client secret', 'not-the-secret-at-all-0123456789')] })).status).toBe(401);
    expect((await post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_secret: clientSecret! }, { basic })).status).toBe(400);
    expect((await post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_id: clientId, client_secret: 'wrong' })).status).toBe(401);
    expect((await post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode }, { basic })).json.error).toBe('authorization_pending');
    expect((await post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: `${deviceCode}x` }, { basic })).json.error).toBe('invalid_grant');
    // A credential in the push URL is refused, and not echoed.
    const pushed = await rawRequest(server.url, {
      method: 'GET',
      path: `/push?device_code=${encodeURIComponent(deviceCode)}`,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    expect(pushed.status).toBe(400);
    errorBodies.push({ what: 'GET /push?device_code → 400', body: pushed.body.toString('utf8') });

    // The phone: verification_uri_complete, confirm, a wrong password, sign-in, consent.
    const phone = pageClient();
    const linked = await phone.get(new URL(auth.verification_uri_complete!).pathname + new URL(auth.verification_uri_complete!).search);
    expect(linked.status).toBe(303);
    await phone.get('/device');
    const confirmed = await phone.post('/device', { csrf_token: await phone.client.csrf(), action: 'confirm' });
    expect(confirmed.status).toBe(303);
    const wrong = await phone.post('/signin', { csrf_token: await phone.client.csrf('/signin'), username: 'alice', password: wrongPassword, return_to: '/device/consent' });
    expect(wrong.status).toBe(401);
    const signedIn = await phone.post('/signin', { csrf_token: await phone.client.csrf('/signin'), username: 'alice', password, return_to: '/device/consent' });
    expect(signedIn.status).toBe(303);
    const consent = await phone.get('/device/consent');
    expect(consent.status).toBe(200);
    const approved = await phone.post('/device/consent', { csrf_token: await phone.client.csrf('/device/consent'), decision: 'approve', scope: ['valuate:read'] });
    expect(approved.status).toBe(303);
    await phone.get('/device/done');
    // The used code sent again without a CSRF token (refused 403), and the devices page.
    await phone.post('/device', { user_code: auth.user_code! });
    await phone.get('/devices');

    // Tokens, a refresh, reuse of the old refresh token (the family ends), revocation, introspection.
    const tokens = (await post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode }, { basic })).json;
    const access = secret('access token', tokens.access_token);
    const refresh = secret('refresh token', tokens.refresh_token);
    expect((await post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode }, { basic })).json.error).toBe('invalid_grant');
    const next = (await post('/token', { grant_type: 'refresh_token', refresh_token: refresh }, { basic })).json;
    secret('access token', next.access_token);
    const nextRefresh = secret('refresh token', next.refresh_token);
    expect((await post('/introspect', { token: next.access_token! }, { basic })).json.active).toBe(true);
    expect((await post('/introspect', { token: access }, { basic: [clientId, 'wrong'] })).status).toBe(401);
    expect((await post('/token', { grant_type: 'refresh_token', refresh_token: refresh }, { basic })).json.error).toBe('invalid_grant');
    expect((await post('/token', { grant_type: 'refresh_token', refresh_token: nextRefresh }, { basic })).json.error).toBe('invalid_grant');
    expect((await post('/revoke', { token: nextRefresh }, { basic })).status).toBe(200);
    expect((await post('/revoke', { token: access }, { basic: [clientId, 'wrong'] })).status).toBe(401);
    expect((await post('/token', { grant_type: 'refresh_token', refresh_token: `${nextRefresh}x`, scope: 'valuate:write' }, { basic })).status).toBe(400);

    locations.push(...phone.client.locations);
    const log = server.logText();
    // The flow really was logged at debug level, request by request.
    expect(server.logLines().filter((l) => l.msg === 'request').length).toBeGreaterThan(20);
    expect(errorBodies.length).toBeGreaterThan(10);
    expect(locations.length).toBeGreaterThanOrEqual(4);
    for (const [kind, value] of secrets) {
      // A user code is matched as a whole word, so that it is not found by chance inside a random token.
      const pattern = new RegExp(`(?<![A-Za-z0-9_-])${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9_-])`, 'i');
      expect(pattern.test(log), `${kind} in the log`).toBe(false);
      for (const location of locations) expect(pattern.test(location), `${kind} in redirect ${location}`).toBe(false);
      for (const { what, body } of errorBodies) expect(pattern.test(body), `${kind} in the answer to ${what}`).toBe(false);
    }
  });
});
