/**
 * DPoP across two server processes on one database (one deployment behind a load balancer, one
 * `PUBLIC_URL`): a proof spent on one process is refused on the other, at `/token` and on the
 * push channel, and a nonce handed out by one is taken by the other. The second process is
 * `kalm serve` as a child with the real clock; the test server's fake clock starts at the real time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { startChildServer, type ChildServer } from '../reliability/support/child-server.js';
import { openPush } from '../push/push-client.js';
import { dpopKey, proof, type DpopKey } from './dpop-proofs.js';
import { errorOf, type Tokens } from './flow.js';

let here: TestServer;
let there: ChildServer;
let key: DpopKey;
let clientId: string;

beforeAll(async () => {
  here = await startTestServer({ clockStart: Date.now(), config: { dpopNonce: true } });
  ({ clientId } = await here.createClient());
  key = await dpopKey();
  there = await startChildServer(here.dataDir, { PUBLIC_URL: here.url, DPOP_NONCE: '1' });
});
afterAll(async () => {
  await there?.stop();
  await here?.stop();
});

/** POST /token to `base` (either process) with a proof made for the one published token URL. */
async function token(base: string, form: Record<string, string>, dpop: string) {
  return fetch(`${base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', dpop }, body: new URLSearchParams(form) });
}

const tokenProof = (nonce?: string) => proof(key, here.clock, `${here.url}/token`, nonce === undefined ? {} : { nonce });

describe('DPoP across server processes on one database', () => {
  it('takes a nonce from one process on the other, and refuses there a proof spent here', async () => {
    const flow = (await (await here.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' })).json()) as { device_code: string; user_code: string };
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
    const nonce = (await token(here.url, form, await tokenProof())).headers.get('dpop-nonce')!;
    expect(nonce).toBeTruthy();
    const spent = await tokenProof(nonce);
    expect((await errorOf(await token(here.url, form, spent))).body.error).toBe('authorization_pending');
    const replayed = await errorOf(await token(there.url, form, spent));
    expect(replayed.body).toMatchObject({ error: 'invalid_dpop_proof', error_description: expect.stringContaining('jti') });
    // A fresh proof with this process's nonce is fine there.
    expect((await errorOf(await token(there.url, form, await tokenProof(nonce)))).body.error).toBe('authorization_pending');
  });

  it('refuses on the other process a push proof spent here', async () => {
    const flow = (await (await here.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' })).json()) as { device_code: string; user_code: string };
    await here.core.deviceFlow.approve(flow.user_code, (await here.createUser()).id, ['valuate:read']);
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
    const nonce = (await token(here.url, form, await tokenProof())).headers.get('dpop-nonce')!;
    const tokens = (await (await token(here.url, form, await tokenProof(nonce))).json()) as Tokens;
    expect(tokens.token_type).toBe('DPoP');
    // Both processes publish the same push URL (one PUBLIC_URL).
    const pushProof = await proof(key, here.clock, `${here.url.replace(/^http/, 'ws')}/push`, { htm: 'GET', accessToken: tokens.access_token });
    const message = { type: 'subscribe', access_token: tokens.access_token, dpop: pushProof };
    const first = await openPush(`${here.url.replace(/^http/, 'ws')}/push`);
    first.send(message);
    expect(await first.next()).toEqual({ type: 'subscribed', status: 'paired' });
    const second = await openPush(`${there.url.replace(/^http/, 'ws')}/push`);
    second.send(message);
    expect(await second.closed).toMatchObject({ code: 4403, reason: expect.stringContaining('jti') });
    first.ws.close();
  });
});
