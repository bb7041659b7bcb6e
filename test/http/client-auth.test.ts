import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../server/src/core/secrets.js';
import { startTestServer, GRANT_TYPES, ALL_SCOPES, type TestServer } from '../helpers/server.js';
import { errorOf, type DeviceAuthorization } from './flow.js';

let server: TestServer;

// RFC 6749 Appendix B: both id and secret are form-encoded before Basic; these need it.
const CLIENT_ID = 'tv:app+1%';
const SECRET = 's3cr3t: +%&=/ü€ ~';

beforeAll(async () => {
  server = await startTestServer();
  // Registered through the store interface, because generated secrets have no special characters.
  await server.core.store.clients.create({
    id: CLIENT_ID,
    name: 'Awkward app',
    type: 'confidential',
    secretHash: await hashPassword(SECRET),
    grantTypes: [GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
    scopes: ALL_SCOPES,
    redirectUris: [],
    deviceCodeTtl: null,
    devicePollInterval: null,
    accessTokenAlg: null,
    ownerUserId: null,
    createdAt: server.clock.now(),
  });
});
afterAll(() => server.stop());

function basicHeader(id: string, secret: string) {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

function deviceAuthorization(form: Record<string, string>, authorization?: string) {
  const headers: Record<string, string> = authorization ? { authorization } : {};
  return server.post('/device_authorization', form, { headers });
}

describe('client authentication (RFC 6749 §2.3)', () => {
  it('accepts client_secret_basic with id and secret form-encoded per RFC 6749 Appendix B', async () => {
    const res = await server.post('/device_authorization', {}, { basic: [CLIENT_ID, SECRET] });
    expect(res.status).toBe(200);
    expect(((await res.json()) as DeviceAuthorization).device_code).toEqual(expect.any(String));
  });

  it('decodes "+" in Basic credentials as a space, as form-encoding says', async () => {
    const plusForSpace = basicHeader(encodeURIComponent(CLIENT_ID), encodeURIComponent(SECRET).replace(/%20/g, '+'));
    expect((await deviceAuthorization({}, plusForSpace)).status).toBe(200);
    // Sent raw, the "+" of the id would be read as a space: a different client.
    expect((await deviceAuthorization({}, basicHeader(CLIENT_ID, SECRET))).status).toBe(401);
  });

  it('accepts client_secret_post', async () => {
    const res = await server.post('/device_authorization', { client_id: CLIENT_ID, client_secret: SECRET });
    expect(res.status).toBe(200);
  });

  it('accepts Basic together with a matching client_id in the body', async () => {
    const res = await server.post('/device_authorization', { client_id: CLIENT_ID }, { basic: [CLIENT_ID, SECRET] });
    expect(res.status).toBe(200);
  });

  it('refuses Basic with a different client_id in the body as invalid_request', async () => {
    const { clientId } = await server.createClient();
    const res = await server.post('/device_authorization', { client_id: clientId }, { basic: [CLIENT_ID, SECRET] });
    expect(await errorOf(res)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('refuses two authentication methods at once (Basic and client_secret in the body)', async () => {
    const res = await server.post('/device_authorization', { client_id: CLIENT_ID, client_secret: SECRET }, { basic: [CLIENT_ID, SECRET] });
    expect(await errorOf(res)).toMatchObject({ status: 400, body: { error: 'invalid_request' } });
  });

  it('answers a wrong secret with 401 invalid_client and a Basic WWW-Authenticate, by either method', async () => {
    const basic = await errorOf(await server.post('/device_authorization', {}, { basic: [CLIENT_ID, 'wrong'] }));
    expect(basic).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(basic.wwwAuthenticate).toMatch(/^Basic realm=/);
    const post = await errorOf(await server.post('/device_authorization', { client_id: CLIENT_ID, client_secret: 'wrong' }));
    expect(post).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses a confidential client that sends no secret', async () => {
    const res = await server.post('/device_authorization', { client_id: CLIENT_ID });
    expect(await errorOf(res)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses a public client that presents a secret', async () => {
    const { clientId } = await server.createClient();
    const res = await server.post('/device_authorization', { client_id: clientId, client_secret: 'anything' });
    expect(await errorOf(res)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('refuses a request that names no client', async () => {
    expect(await errorOf(await server.post('/device_authorization', { scope: 'valuate:read' }))).toMatchObject({
      status: 401,
      body: { error: 'invalid_client' },
    });
  });

  it('authenticates the same way at the token endpoint', async () => {
    const flow = (await (await server.post('/device_authorization', {}, { basic: [CLIENT_ID, SECRET] })).json()) as DeviceAuthorization;
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code };
    expect((await errorOf(await server.post('/token', form, { basic: [CLIENT_ID, SECRET] }))).body.error).toBe('authorization_pending');
    server.clock.advance(5_000);
    expect((await errorOf(await server.post('/token', { ...form, client_id: CLIENT_ID, client_secret: SECRET }))).body.error).toBe(
      'authorization_pending',
    );
    const wrong = await errorOf(await server.post('/token', form, { basic: [CLIENT_ID, 'nope'] }));
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('sends WWW-Authenticate only with a 401 invalid_client', async () => {
    const { clientId } = await server.createClient();
    const answers = [
      await server.post('/device_authorization', { client_id: clientId, scope: 'nope' }),
      await server.post('/token', { client_id: clientId, grant_type: 'password' }),
      await server.post('/token', { client_id: clientId, grant_type: GRANT_TYPES.deviceCode, device_code: 'x' }),
      await server.post('/token', { client_id: clientId }),
      await server.post('/device_authorization', { client_id: CLIENT_ID, client_secret: SECRET }, { basic: [CLIENT_ID, SECRET] }),
    ];
    for (const res of answers) {
      expect(res.status).toBe(400);
      expect(res.headers.get('www-authenticate')).toBeNull();
    }
  });
});
