import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { readUserCode } from '../../server/src/core/user-codes.js';
import { authorize, errorOf, postAs } from './flow.js';

let server: TestServer;
let publicId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId: publicId } = await server.createClient({ scopes: ['valuate:read', 'billing:read'] }));
});
afterAll(() => server.stop());

const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{5}$/;

describe('POST /device_authorization (RFC 8628 §3.1–3.2)', () => {
  it('answers every RFC 8628 §3.2 member, with integer expires_in and interval and no null member', async () => {
    const res = await server.post('/device_authorization', { client_id: publicId, scope: 'valuate:read' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const text = await res.text();
    expect(text).not.toContain('null');
    const body = JSON.parse(text) as Record<string, unknown>;
    expect(body.user_code).toMatch(USER_CODE);
    expect(readUserCode(String(body.user_code))).toMatchObject({ kind: 'code', checked: true });
    expect(body.verification_uri).toBe(`${server.core.config.publicUrl}/device`);
    expect(body.verification_uri_complete).toBe(`${server.core.config.publicUrl}/device?user_code=${body.user_code}`);
    expect(body.expires_in).toBe(600);
    expect(body.interval).toBe(5);
    expect(Number.isInteger(body.expires_in) && Number.isInteger(body.interval)).toBe(true);
    for (const value of Object.values(body)) expect(value).not.toBeNull();
  });

  it('sends Cache-Control: no-store and Pragma: no-cache', async () => {
    const res = await server.post('/device_authorization', { client_id: publicId });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
  });

  it('issues a device code of at least 256 bits and a fresh user code every time', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const flow = await authorize(server, { clientId: publicId });
      // 6 bytes of the issue time (ms, big-endian), then 32 random bytes.
      const bytes = Buffer.from(flow.device_code, 'base64url');
      expect(bytes.length).toBe(38);
      expect(bytes.readUIntBE(0, 6)).toBe(server.clock.now());
      expect(seen.has(flow.user_code)).toBe(false);
      seen.add(flow.user_code);
    }
  });

  it('uses the expires_in and interval configured for the client', async () => {
    const { clientId } = await server.createClient({ deviceCodeTtl: 120, devicePollInterval: 2 });
    const flow = await authorize(server, { clientId });
    expect(flow.expires_in).toBe(120);
    expect(flow.interval).toBe(2);
  });

  it('grants every allowed scope when none is requested', async () => {
    const flow = await authorize(server, { clientId: publicId });
    const pending = await server.core.deviceFlow.findPending(flow.user_code);
    expect(pending?.scopes).toEqual(['valuate:read', 'billing:read']);
  });

  it('answers invalid_scope for a scope outside the catalogue', async () => {
    const res = await server.post('/device_authorization', { client_id: publicId, scope: 'valuate:read launch:missiles' });
    expect(await errorOf(res)).toMatchObject({ status: 400, body: { error: 'invalid_scope' }, wwwAuthenticate: null });
  });

  it('answers invalid_scope for a catalogue scope the client is not allowed', async () => {
    const res = await server.post('/device_authorization', { client_id: publicId, scope: 'organization:admin' });
    expect(await errorOf(res)).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });

  it('answers unauthorized_client to a client not registered for the device grant', async () => {
    const { clientId, clientSecret } = await server.createClient({
      type: 'confidential',
      grantTypes: [GRANT_TYPES.refreshToken],
    });
    const res = await postAs(server, '/device_authorization', { clientId, clientSecret: clientSecret!, method: 'basic' }, {});
    expect(await errorOf(res)).toMatchObject({ status: 400, body: { error: 'unauthorized_client' }, wwwAuthenticate: null });
  });

  it('answers invalid_client with 401 and WWW-Authenticate for an unknown client', async () => {
    const res = await server.post('/device_authorization', { client_id: 'nobody' });
    expect(await errorOf(res)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('authenticates a confidential client by client_secret_basic and by client_secret_post', async () => {
    const { clientId, clientSecret } = await server.createClient({ type: 'confidential' });
    await authorize(server, { clientId, clientSecret: clientSecret!, method: 'basic' });
    await authorize(server, { clientId, clientSecret: clientSecret!, method: 'post' });
    const res = await server.post('/device_authorization', { client_id: clientId });
    expect(await errorOf(res)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });
});
