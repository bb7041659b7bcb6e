import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';

let server: TestServer;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId } = await server.createClient());
});
afterAll(() => server.stop());

async function authorize(scope = 'valuate:read billing:read') {
  const res = await server.post('/device_authorization', { client_id: clientId, scope });
  expect(res.status).toBe(200);
  return (await res.json()) as { device_code: string; user_code: string; interval: number; expires_in: number; verification_uri_complete: string };
}

function poll(deviceCode: string, id = clientId) {
  return server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_id: id });
}

describe('device flow over HTTP', () => {
  it('answers authorization_pending, then tokens once the person approves a subset of scopes', async () => {
    const auth = await authorize();
    expect(auth.user_code).toMatch(/^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{5}$/);
    expect(auth.verification_uri_complete).toBe(`${server.core.config.publicUrl}/device?user_code=${auth.user_code}`);

    const pending = await poll(auth.device_code);
    expect(pending.status).toBe(400);
    expect(await pending.json()).toMatchObject({ error: 'authorization_pending' });

    const user = await server.createUser();
    await server.core.deviceFlow.approve(auth.user_code.toLowerCase(), user.id, ['billing:read']);
    const res = await poll(auth.device_code);
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { access_token: string; scope: string; refresh_token: string; token_type: string };
    expect(tokens).toMatchObject({ token_type: 'Bearer', scope: 'billing:read' });

    const jwks = createRemoteJWKSet(new URL(`${server.url}/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, {
      issuer: server.core.config.publicUrl,
      currentDate: new Date(server.clock.now()),
    });
    expect(protectedHeader.typ).toBe('at+jwt');
    expect(payload).toMatchObject({ sub: user.id, client_id: clientId, scope: 'billing:read' });
  });

  it('answers slow_down and adds 5 s when polled sooner than the interval', async () => {
    const auth = await authorize();
    expect((await poll(auth.device_code)).status).toBe(400);
    server.clock.advance(4_999);
    const early = await poll(auth.device_code);
    expect(await early.json()).toMatchObject({ error: 'slow_down', interval: 10 });
    server.clock.advance(10_000);
    expect(await (await poll(auth.device_code)).json()).toMatchObject({ error: 'authorization_pending' });
  });
});
