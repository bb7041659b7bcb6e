/**
 * DPoP on the push channel (RFC 9449 §7.1): a paired subscription with a DPoP-bound access
 * token is taken only with a `dpop` proof of its key for `GET` on the push URL carrying the
 * token's `ath`; with a real socket against a listening server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { openPush, pushUrl, subscribe } from '../push/push-client.js';
import { dpopKey, proof, type DpopKey, type ProofOptions } from './dpop-proofs.js';
import type { Tokens } from './flow.js';

let server: TestServer;
let key: DpopKey;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer();
  key = await dpopKey();
  ({ clientId } = await server.createClient());
});
afterAll(() => server.stop());

/** A finished device flow: with `key`, its tokens are bound to it. */
async function pairedTokens(bound: boolean): Promise<Tokens & { userId: string }> {
  const flow = (await (await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' })).json()) as { device_code: string; user_code: string };
  const user = await server.createUser();
  await server.core.deviceFlow.approve(flow.user_code, user.id, ['valuate:read']);
  const headers: Record<string, string> = bound ? { dpop: await proof(key, server.clock, `${server.url}/token`) } : {};
  const res = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId }, { headers });
  expect(res.status).toBe(200);
  return { ...((await res.json()) as Tokens), userId: user.id };
}

function pushProof(accessToken: string, options: ProofOptions = {}, k = key) {
  return proof(k, server.clock, pushUrl(server), { htm: 'GET', accessToken, ...options });
}

async function subscribeWith(message: Record<string, unknown>) {
  const peer = await openPush(pushUrl(server));
  peer.send({ type: 'subscribe', ...message });
  return peer;
}

describe('DPoP on the push channel', () => {
  it('takes a bound token with a proof of its key, and tells the device when the pairing is revoked', async () => {
    const tokens = await pairedTokens(true);
    const peer = await subscribeWith({ access_token: tokens.access_token, dpop: await pushProof(tokens.access_token) });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'paired' });
    await server.core.tokens.revokeGrant((await server.core.tokens.verifyAccessToken(tokens.access_token))!.grant_id!);
    expect(await peer.next()).toEqual({ type: 'status', status: 'revoked' });
    expect((await peer.closed).code).toBe(1000);
  });

  it('closes with 4403 a bound token without a proof, with a proof of another key, or without the token hash', async () => {
    const tokens = await pairedTokens(true);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ access_token: tokens.access_token }, /DPoP-bound/],
      [{ access_token: tokens.access_token, dpop: await pushProof(tokens.access_token, {}, await dpopKey()) }, /not of the key/],
      [{ access_token: tokens.access_token, dpop: await pushProof('another token') }, /ath/],
      [{ access_token: tokens.access_token, dpop: await pushProof(tokens.access_token, { htm: 'POST' }) }, /htm/],
      [{ access_token: tokens.access_token, dpop: await proof(key, server.clock, `${server.url}/token`, { htm: 'GET', accessToken: tokens.access_token }) }, /htu/],
      [{ access_token: tokens.access_token, dpop: await pushProof(tokens.access_token, { iat: Math.floor(server.clock.now() / 1000) - 120 }) }, /too old/],
    ];
    for (const [message, reason] of cases) {
      const peer = await subscribeWith(message);
      const closed = await peer.closed;
      expect(closed.code).toBe(4403);
      expect(closed.reason).toMatch(reason);
    }
  });

  it('refuses the same proof twice (jti replay)', async () => {
    const tokens = await pairedTokens(true);
    const once = await pushProof(tokens.access_token);
    const first = await subscribeWith({ access_token: tokens.access_token, dpop: once });
    expect(await first.next()).toEqual({ type: 'subscribed', status: 'paired' });
    const second = await subscribeWith({ access_token: tokens.access_token, dpop: once });
    expect(await second.closed).toMatchObject({ code: 4403, reason: expect.stringContaining('jti') });
    first.ws.close();
  });

  it('takes a bearer token without a proof as before, and refuses a malformed dpop member', async () => {
    const tokens = await pairedTokens(false);
    expect(tokens.token_type).toBe('Bearer');
    const peer = await subscribe(server, { access_token: tokens.access_token });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'paired' });
    peer.ws.close();
    const malformed = await subscribeWith({ access_token: tokens.access_token, dpop: 42 });
    expect((await malformed.closed).code).toBe(4400);
  });
});
