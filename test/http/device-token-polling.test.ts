import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProtectedHeader, decodeJwt } from 'jose';
import fc from 'fast-check';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { hashSecret, newSecret, systemRandom } from '../../server/src/core/secrets.js';
import { formatUserCode, generateUserCode } from '../../server/src/core/user-codes.js';
import { authorize, errorOf, poll, type ClientAuth, type Tokens } from './flow.js';

let server: TestServer;
let device: ClientAuth;

beforeAll(async () => {
  server = await startTestServer();
  device = await server.createClient();
});
afterAll(() => server.stop());

async function pollError(code: string, auth = device) {
  return errorOf(await poll(server, auth, code));
}

describe('device code polling at POST /token (RFC 8628 §3.4–3.5)', () => {
  it('never answers slow_down to the first poll, even right after the authorization', async () => {
    const flow = await authorize(server, device);
    expect(await pollError(flow.device_code)).toMatchObject({ status: 400, body: { error: 'authorization_pending' } });
  });

  it('answers slow_down and adds 5 s each time it is polled sooner than the interval in force', async () => {
    const flow = await authorize(server, device);
    await poll(server, device, flow.device_code);
    server.clock.advance(4_999);
    expect((await pollError(flow.device_code)).body).toEqual({ error: 'slow_down', error_description: expect.any(String), interval: 10 });
    server.clock.advance(9_999);
    expect((await pollError(flow.device_code)).body).toMatchObject({ error: 'slow_down', interval: 15 });
    // Polling again at the old pace is still too fast: the increase holds for all later requests.
    server.clock.advance(10_000);
    expect((await pollError(flow.device_code)).body).toMatchObject({ error: 'slow_down', interval: 20 });
    server.clock.advance(20_000);
    expect((await pollError(flow.device_code)).body).toMatchObject({ error: 'authorization_pending' });
  });

  it('never slows down a client that waits exactly the returned interval', async () => {
    const flow = await authorize(server, device);
    let interval = flow.interval;
    const answers: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { body } = await pollError(flow.device_code);
      answers.push(String(body.error));
      if (typeof body.interval === 'number') interval = body.interval;
      server.clock.advance(interval * 1000);
    }
    expect(new Set(answers)).toEqual(new Set(['authorization_pending']));
  });

  it('follows the RFC 8628 §3.5 model for any sequence of gaps between polls', async () => {
    // Model: the first poll is free; a poll sooner than the interval in force is slow_down and
    // adds 5 s for it and every later request; any other poll is authorization_pending.
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 25_000 }), { minLength: 1, maxLength: 8 }), async (gaps) => {
        const flow = await authorize(server, device);
        let interval = flow.interval;
        let first = true;
        for (const gap of gaps) {
          server.clock.advance(gap);
          const early = !first && gap < interval * 1000;
          if (early) interval += 5;
          first = false;
          const { body } = await pollError(flow.device_code);
          expect(body).toMatchObject(early ? { error: 'slow_down', interval } : { error: 'authorization_pending' });
        }
      }),
      { numRuns: 25 },
    );
  });

  it('keeps the slowed-down interval for a client that then obeys it', async () => {
    const flow = await authorize(server, device);
    await poll(server, device, flow.device_code);
    const slowed = await pollError(flow.device_code);
    expect(slowed.body).toMatchObject({ error: 'slow_down', interval: 10 });
    for (let i = 0; i < 5; i++) {
      server.clock.advance(10_000);
      expect((await pollError(flow.device_code)).body.error).toBe('authorization_pending');
    }
  });

  it('answers polling errors with 400 JSON, no WWW-Authenticate, and no-store', async () => {
    const flow = await authorize(server, device);
    for (const expected of ['authorization_pending', 'slow_down']) {
      const res = await poll(server, device, flow.device_code);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      expect(((await res.json()) as { error: string }).error).toBe(expected);
    }
  });

  it('answers expired_token, not invalid_grant, once the code has expired', async () => {
    const flow = await authorize(server, device);
    await poll(server, device, flow.device_code);
    server.clock.advance(flow.expires_in * 1000 - 1);
    expect((await pollError(flow.device_code)).body.error).toBe('authorization_pending');
    server.clock.advance(1);
    expect(await pollError(flow.device_code)).toMatchObject({ status: 400, body: { error: 'expired_token' }, wwwAuthenticate: null });
  });

  it('answers expired_token for a code approved but not redeemed before it expired', async () => {
    const flow = await authorize(server, device);
    const user = await server.createUser();
    await server.core.deviceFlow.approve(flow.user_code, user.id, ['valuate:read']);
    server.clock.advance(flow.expires_in * 1000);
    expect((await pollError(flow.device_code)).body.error).toBe('expired_token');
  });

  it('answers access_denied after the person denies, and keeps answering it', async () => {
    const flow = await authorize(server, device);
    await server.core.deviceFlow.deny(flow.user_code);
    expect(await pollError(flow.device_code)).toMatchObject({ status: 400, body: { error: 'access_denied' }, wwwAuthenticate: null });
    server.clock.advance(5_000);
    expect((await pollError(flow.device_code)).body.error).toBe('access_denied');
    await expect(server.core.deviceFlow.approve(flow.user_code, (await server.createUser()).id, ['valuate:read'])).rejects.toThrow();
  });

  it('answers invalid_grant for an unknown device code', async () => {
    expect(await pollError('not-a-device-code')).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await pollError('x'.repeat(4000))).body.error).toBe('invalid_grant');
  });

  it('answers invalid_grant for a device code whose time prefix or secret part was altered', async () => {
    const flow = await authorize(server, device);
    const flip = (code: string, at: number) => code.slice(0, at) + (code[at] === 'A' ? 'B' : 'A') + code.slice(at + 1);
    expect((await pollError(flip(flow.device_code, 3))).body.error).toBe('invalid_grant');
    expect((await pollError(flip(flow.device_code, 30))).body.error).toBe('invalid_grant');
    // Not base64url where the time should be: still the same answer, no 500.
    expect(await pollError(`*.!~ %:;${flow.device_code.slice(8)}`)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect((await pollError(flow.device_code)).body.error).toBe('authorization_pending');
  });

  it('still answers a device code issued before codes carried their issue time (a plain 256-bit secret)', async () => {
    const now = server.clock.now();
    const old = newSecret(systemRandom, 32);
    const userCode = generateUserCode(systemRandom);
    const inserted = await server.core.store.deviceCodes.insert(
      { deviceCodeHash: hashSecret(old), userCode, clientId: device.clientId, scopes: ['valuate:read'],
        createdAt: now, expiresAt: now + 600_000, interval: 5, requestIp: null, requestUserAgent: null },
      now,
    );
    expect(inserted).toBeDefined();
    expect(await pollError(old)).toMatchObject({ status: 400, body: { error: 'authorization_pending' } });
    await server.core.deviceFlow.approve(formatUserCode(userCode), (await server.createUser()).id, ['valuate:read']);
    expect((await poll(server, device, old)).status).toBe(200);
  });

  it("answers invalid_grant when another client presents the device code, and leaves the owner's flow intact", async () => {
    const other = await server.createClient();
    const flow = await authorize(server, device);
    expect((await pollError(flow.device_code, other)).body.error).toBe('invalid_grant');
    const user = await server.createUser();
    await server.core.deviceFlow.approve(flow.user_code, user.id, ['valuate:read']);
    expect((await pollError(flow.device_code, other)).body.error).toBe('invalid_grant');
    expect((await poll(server, device, flow.device_code)).status).toBe(200);
  });

  it('answers invalid_grant to a code already redeemed', async () => {
    const flow = await authorize(server, device);
    await server.core.deviceFlow.approve(flow.user_code, (await server.createUser()).id, ['valuate:read']);
    expect((await poll(server, device, flow.device_code)).status).toBe(200);
    expect(await pollError(flow.device_code)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  });

  it('redeems an approved code at once, even right after a poll (a push-notified device is not slowed down)', async () => {
    const flow = await authorize(server, device);
    await poll(server, device, flow.device_code);
    await server.core.deviceFlow.approve(flow.user_code, (await server.createUser()).id, ['valuate:read']);
    expect((await poll(server, device, flow.device_code)).status).toBe(200);
  });

  it('redeems an approved code exactly once when 50 polls race', async () => {
    const flow = await authorize(server, device);
    await server.core.deviceFlow.approve(flow.user_code, (await server.createUser()).id, ['valuate:read']);
    const responses = await Promise.all(Array.from({ length: 50 }, () => poll(server, device, flow.device_code)));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<Record<string, unknown>>));
    const winners = bodies.filter((b) => typeof b.access_token === 'string');
    expect(winners).toHaveLength(1);
    expect(responses.filter((r) => r.status === 500)).toHaveLength(0);
    expect(bodies.filter((b) => b.error === 'invalid_grant')).toHaveLength(49);
    // The one grant that was created is the only one this user has.
    const claims = decodeJwt(String(winners[0]!.access_token));
    expect(await server.core.store.grants.listByUser(String(claims.sub))).toHaveLength(1);
  });

  it('issues an RFC 9068 JWT access token and a refresh token with the granted scopes', async () => {
    const flow = await authorize(server, device, 'valuate:read valuate:write billing:read');
    const user = await server.createUser();
    await server.core.deviceFlow.approve(flow.user_code, user.id, ['billing:read', 'valuate:read']);
    const res = await poll(server, device, flow.device_code);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const text = await res.text();
    expect(text).not.toContain('null');
    const tokens = JSON.parse(text) as Tokens;
    expect(tokens).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'billing:read valuate:read' });
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(decodeProtectedHeader(tokens.access_token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt', kid: expect.any(String) });
    const claims = decodeJwt(tokens.access_token);
    const now = Math.floor(server.clock.now() / 1000);
    expect(claims).toMatchObject({
      iss: server.core.config.publicUrl,
      sub: user.id,
      aud: server.core.config.publicUrl,
      client_id: device.clientId,
      scope: 'billing:read valuate:read',
      iat: now,
      exp: now + 3600,
      jti: expect.any(String),
    });
  });

  it('issues no refresh token to a client not registered for the refresh_token grant', async () => {
    const noRefresh = await server.createClient({ grantTypes: [GRANT_TYPES.deviceCode] });
    const flow = await authorize(server, noRefresh);
    await server.core.deviceFlow.approve(flow.user_code, (await server.createUser()).id, ['valuate:read']);
    const tokens = (await (await poll(server, noRefresh, flow.device_code)).json()) as Tokens;
    expect(tokens.access_token).toEqual(expect.any(String));
    expect('refresh_token' in tokens).toBe(false);
  });

  it('answers unauthorized_client to a client polling with a grant it is not registered for', async () => {
    const refreshOnly = await server.createClient({ grantTypes: [GRANT_TYPES.refreshToken] });
    expect(await pollError('whatever', refreshOnly)).toMatchObject({ status: 400, body: { error: 'unauthorized_client' } });
  });

  it('lets the person grant only a non-empty subset of the requested scopes', async () => {
    const flow = await authorize(server, device, 'valuate:read');
    const user = await server.createUser();
    await expect(server.core.deviceFlow.approve(flow.user_code, user.id, [])).rejects.toMatchObject({ error: 'invalid_scope' });
    await expect(server.core.deviceFlow.approve(flow.user_code, user.id, ['billing:read'])).rejects.toMatchObject({ error: 'invalid_scope' });
    await server.core.deviceFlow.approve(flow.user_code.replace('-', ' ').toLowerCase(), user.id, ['valuate:read']);
    expect((await poll(server, device, flow.device_code)).status).toBe(200);
  });
});
