import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeUserCode } from '../../server/src/core/user-codes.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { authorize, introspect, poll, postAs, refresh, type ClientAuth, type Tokens } from './flow.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ logLevel: 'trace' });
});
afterAll(() => server.stop());

describe('structured logs', () => {
  it('never contain a device code, user code, token, client secret or password', async () => {
    const c = await server.createClient({ type: 'confidential' });
    const device: ClientAuth = { clientId: c.clientId, clientSecret: c.clientSecret!, method: 'basic' };
    const asPost: ClientAuth = { ...device, method: 'post' };
    const user = await server.createUser('logwatcher', 'a password nobody may log');

    const flow = await authorize(server, asPost, 'valuate:read');
    await poll(server, device, flow.device_code);
    await fetch(`${server.url}/device?user_code=${encodeURIComponent(flow.user_code)}`);
    await server.core.deviceFlow.approve(flow.user_code, user.id, ['valuate:read']);
    const tokens = (await (await poll(server, asPost, flow.device_code)).json()) as Tokens;
    await poll(server, device, flow.device_code); // already redeemed
    const next = (await (await refresh(server, device, tokens.refresh_token!)).json()) as Tokens;
    await refresh(server, device, tokens.refresh_token!); // reuse: revokes the family
    await introspect(server, device, next.access_token);
    await postAs(server, '/revoke', device, { token: next.refresh_token! });
    await server.post('/token', { grant_type: 'refresh_token', refresh_token: 'x' }, { basic: [c.clientId, 'wrong secret value'] });
    await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: c.clientId, client_secret: c.clientSecret! }, { basic: [c.clientId, c.clientSecret!] });
    await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.access_token}` },
      body: JSON.stringify({ password: user.password, device_code: flow.device_code }),
    });

    const text = server.logText();
    expect(text.length).toBeGreaterThan(0); // the request log is on at this level, so there is something to check
    const secrets = {
      deviceCode: flow.device_code,
      userCode: flow.user_code,
      // The stored form: the 8 random letters, without the check character (a substring of the typed form too).
      userCodeNormalised: normalizeUserCode(flow.user_code)!,
      accessToken: tokens.access_token,
      accessTokenSignature: tokens.access_token.split('.')[2]!,
      refreshToken: tokens.refresh_token!,
      nextRefreshToken: next.refresh_token!,
      clientSecret: c.clientSecret!,
      wrongSecret: 'wrong secret value',
      password: user.password,
      basicHeader: Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64'),
    };
    for (const [name, value] of Object.entries(secrets)) {
      expect(text.includes(value), `${name} appears in the log`).toBe(false);
    }
    for (const line of server.logLines()) expect(line.level as number).toBeLessThan(50);
  });

  it('redacts secret-named fields that code might log, at the top level and one level down', () => {
    server.logger.warn(
      { device_code: 'dc-SECRET-1', client_secret: 'cs-SECRET-2', req: { password: 'pw-SECRET-3', refresh_token: 'rt-SECRET-4', authorization: 'Basic SECRET-5' } },
      'redaction probe',
    );
    const probe = server.logLines().find((l) => l.msg === 'redaction probe');
    expect(probe).toBeDefined();
    expect(JSON.stringify(probe)).not.toMatch(/SECRET/);
  });
});
