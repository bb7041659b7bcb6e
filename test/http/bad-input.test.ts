import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { errorOf } from './flow.js';

let server: TestServer;
let clientId: string;
let confidential: { clientId: string; clientSecret: string };

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId } = await server.createClient());
  const c = await server.createClient({ type: 'confidential' });
  confidential = { clientId: c.clientId, clientSecret: c.clientSecret! };
});
afterAll(() => server.stop());

const FORM_ENDPOINTS = ['/device_authorization', '/token', '/revoke', '/introspect'];

/** POST a raw body with the given headers. */
function raw(path: string, body: string | undefined, headers: Record<string, string>) {
  return fetch(`${server.url}${path}`, { method: 'POST', headers, body });
}

const form = (s: string) => raw('/token', s, { 'content-type': 'application/x-www-form-urlencoded' });

describe('bad input gets its RFC 6749 §5.2 error, never a 500', () => {
  it('refuses a JSON body with invalid_request at every form endpoint', async () => {
    for (const path of FORM_ENDPOINTS) {
      const res = await raw(path, JSON.stringify({ client_id: clientId, grant_type: 'refresh_token' }), { 'content-type': 'application/json' });
      expect(await errorOf(res), path).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    }
  });

  it('refuses text/plain, a missing content type and multipart with invalid_request', async () => {
    const body = `client_id=${clientId}`;
    for (const headers of [{ 'content-type': 'text/plain' }, {}, { 'content-type': 'multipart/form-data; boundary=x' }]) {
      const res = await raw('/device_authorization', body, headers as Record<string, string>);
      expect(await errorOf(res)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
    }
  });

  it('accepts the form content type with a charset parameter and in any case', async () => {
    for (const type of ['application/x-www-form-urlencoded;charset=UTF-8', 'Application/X-WWW-Form-URLEncoded']) {
      const res = await raw('/device_authorization', `client_id=${clientId}`, { 'content-type': type });
      expect(res.status, type).toBe(200);
    }
  });

  it('answers invalid_request to a repeated parameter', async () => {
    const cases = [
      `grant_type=refresh_token&grant_type=refresh_token&client_id=${clientId}&refresh_token=x`,
      `grant_type=refresh_token&client_id=${clientId}&client_id=${clientId}&refresh_token=x`,
      `grant_type=${encodeURIComponent(GRANT_TYPES.deviceCode)}&client_id=${clientId}&device_code=a&device_code=b`,
    ];
    for (const body of cases) {
      const res = await form(body);
      const err = await errorOf(res);
      expect(err, body).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      expect(String(err.body.error_description)).toMatch(/repeated/);
    }
    const scopeTwice = await raw('/device_authorization', `client_id=${clientId}&scope=valuate:read&scope=billing:read`, {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect((await errorOf(scopeTwice)).body.error).toBe('invalid_request');
  });

  it('answers invalid_request naming a missing parameter', async () => {
    const missing = [
      [`client_id=${clientId}`, 'grant_type'],
      [`client_id=${clientId}&grant_type=${encodeURIComponent(GRANT_TYPES.deviceCode)}`, 'device_code'],
      [`client_id=${clientId}&grant_type=refresh_token`, 'refresh_token'],
      // RFC 6749 §3.1: a parameter without a value counts as omitted.
      [`client_id=${clientId}&grant_type=refresh_token&refresh_token=`, 'refresh_token'],
    ];
    for (const [body, name] of missing) {
      const err = await errorOf(await form(body!));
      expect(err, body).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
      expect(String(err.body.error_description)).toContain(name);
    }
    const empty = await errorOf(await form(''));
    expect(empty.status).toBeLessThan(500);
    const revoke = await errorOf(await server.post('/revoke', { client_id: clientId }));
    expect(revoke).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('answers unsupported_grant_type to an unknown grant type', async () => {
    for (const grant of ['password', 'implicit', 'toString', '__proto__', 'urn:ietf:params:oauth:grant-type:jwt-bearer']) {
      const res = await server.post('/token', { client_id: clientId, grant_type: grant });
      expect(await errorOf(res), grant).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' }, wwwAuthenticate: null });
    }
  });

  it('answers 413 invalid_request to a body over 16 KB, and serves one just under it', async () => {
    const big = `client_id=${clientId}&scope=${'a'.repeat(16 * 1024)}`;
    for (const path of FORM_ENDPOINTS) {
      const res = await raw(path, big, { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await errorOf(res), path).toMatchObject({ status: 413, body: { error: 'invalid_request' } });
    }
    const nearly = `client_id=${clientId}&grant_type=${encodeURIComponent(GRANT_TYPES.deviceCode)}&device_code=${'a'.repeat(16 * 1024 - 200)}`;
    expect((await errorOf(await form(nearly))).body.error).toBe('invalid_grant');
  });

  it('answers 401 invalid_client to a malformed Authorization header', async () => {
    const headers = [
      'Basic !!!not-base64!!!',
      `Basic ${Buffer.from('no-colon-here').toString('base64')}`,
      `Basic ${Buffer.from(`${confidential.clientId}:%ZZ`).toString('base64')}`,
      `Basic ${Buffer.from(':secret').toString('base64')}`,
      'Basic',
      'Bearer some.jwt.token',
      'Digest username="x"',
    ];
    for (const authorization of headers) {
      const res = await raw('/token', `grant_type=refresh_token&refresh_token=x`, {
        'content-type': 'application/x-www-form-urlencoded',
        authorization,
      });
      expect(await errorOf(res), authorization).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    }
  });

  it('survives odd parameter names and encodings without a 500', async () => {
    const bodies = [
      `client_id=${clientId}&__proto__=x&constructor=y&toString=z`,
      `client_id=${clientId}&a[b]=c&scope[]=valuate:read`,
      `client_id=%ZZ%E0%A4`,
      `client_id=${clientId}&scope=${encodeURIComponent('valuate:read\u0000')}`,
      `client_id=${clientId}&scope=${encodeURIComponent('valuate:read  billing:read')}`,
      `client_id=${clientId}&scope=${encodeURIComponent('"quoted\\')}`,
      '&&&===&',
      Array.from({ length: 150 }, (_, i) => `p${i}=1`).join('&'),
    ];
    for (const body of bodies) {
      const res = await raw('/device_authorization', body, { 'content-type': 'application/x-www-form-urlencoded' });
      expect(res.status, body).toBeLessThan(500);
      expect(((await res.json()) as { error?: string }).error ?? 'ok', body).not.toBe('server_error');
    }
    const charset = await raw('/token', 'a=b', { 'content-type': 'application/x-www-form-urlencoded; charset=koi8-r' });
    expect(charset.status).toBe(415);
    const gzip = await raw('/token', 'not gzip at all', { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' });
    expect(gzip.status).toBeGreaterThanOrEqual(400);
    expect(gzip.status).toBeLessThan(500);
  });

  it('keeps error_description within the characters RFC 6749 §5.2 allows, even when it echoes input', async () => {
    const answers = [
      await server.post('/token', { client_id: clientId, grant_type: 'pässwörd"\\—' }),
      await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read "quoted"' }),
      await server.post('/device_authorization', { client_id: clientId, scope: 'ünknown' }),
      await server.post('/device_authorization', { client_id: clientId, scope: 'launch:missiles' }),
    ];
    for (const res of answers) {
      const { body } = await errorOf(res);
      expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/);
    }
  });

  it('answers 404 JSON to a GET of the token endpoint and to an unknown path', async () => {
    for (const path of ['/token', '/nowhere']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });

  it('logged no unhandled error for any of it', () => {
    expect(server.logLines().filter((l) => (l.level as number) >= 50)).toEqual([]);
  });
});
