/**
 * DPoP server nonces (RFC 9449 §8) at the token endpoint with `DPOP_NONCE` on, over HTTP with
 * the fake clock: a proof without a fresh nonce gets `use_dpop_nonce` and the nonce, the retry
 * succeeds, every answer to a proof carries the current nonce, and nonces age out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { errorOf, type Tokens } from './flow.js';
import { dpopKey, proof, type DpopKey } from './dpop-proofs.js';

let server: TestServer;
let key: DpopKey;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer({ config: { dpopNonce: true } });
  key = await dpopKey();
  ({ clientId } = await server.createClient());
});
afterAll(() => server.stop());

function token(form: Record<string, string>, dpop?: string) {
  return server.post('/token', form, { headers: dpop === undefined ? {} : { dpop } });
}

const proofWith = (nonce?: string) => proof(key, server.clock, `${server.url}/token`, nonce === undefined ? {} : { nonce });

async function pendingForm() {
  const flow = (await (await server.post('/device_authorization', { client_id: clientId })).json()) as { device_code: string };
  return { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
}

describe('DPoP nonces at /token (DPOP_NONCE=1)', () => {
  it('answers use_dpop_nonce with a DPoP-Nonce header, then takes the retry and hands out the nonce with the tokens', async () => {
    const flow = (await (await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' })).json()) as { device_code: string; user_code: string };
    await server.core.deviceFlow.approve(flow.user_code, (await server.createUser()).id, ['valuate:read']);
    const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
    const first = await token(form, await proofWith());
    const nonce = first.headers.get('dpop-nonce');
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(first.headers.get('access-control-expose-headers')).toBe('DPoP-Nonce');
    expect(await errorOf(first)).toMatchObject({ status: 400, body: { error: 'use_dpop_nonce' }, wwwAuthenticate: null });
    const retry = await token(form, await proofWith(nonce!));
    expect(retry.status, await retry.clone().text()).toBe(200);
    expect(retry.headers.get('dpop-nonce')).toBe(nonce);
    expect(((await retry.json()) as Tokens).token_type).toBe('DPoP');
  });

  it('puts the nonce on error answers to a proof too, and not on requests without one', async () => {
    const form = await pendingForm();
    const nonce = (await token(form, await proofWith())).headers.get('dpop-nonce')!;
    const pending = await token(form, await proofWith(nonce));
    expect(pending.headers.get('dpop-nonce')).toBe(nonce);
    expect((await errorOf(pending)).body.error).toBe('authorization_pending');
    const unknownClient = await token({ ...form, client_id: 'nobody' }, await proofWith(nonce));
    expect(unknownClient.status).toBe(401);
    expect(unknownClient.headers.get('dpop-nonce')).toBe(nonce);
    expect(unknownClient.headers.get('www-authenticate')).toBe('Basic realm="kalm"');
    const plain = await token(form);
    expect(plain.headers.get('dpop-nonce')).toBeNull();
  });

  it('refuses a made-up nonce, keeps the previous slot nonce good, and retires it after that', async () => {
    const form = await pendingForm();
    expect((await errorOf(await token(form, await proofWith('AAAAAAAAAAAAAAAAAAAAAA')))).body.error).toBe('use_dpop_nonce');
    // As many characters as a nonce, more bytes.
    expect((await errorOf(await token(form, await proofWith('é'.repeat(22))))).body.error).toBe('use_dpop_nonce');
    const nonce = (await token(form, await proofWith())).headers.get('dpop-nonce')!;
    server.clock.advance(5 * 60 * 1000);
    const next = await token(form, await proofWith(nonce));
    expect((await errorOf(next.clone())).body.error).not.toBe('use_dpop_nonce');
    const newer = next.headers.get('dpop-nonce')!;
    expect(newer).not.toBe(nonce);
    server.clock.advance(5 * 60 * 1000);
    const stale = await token(form, await proofWith(nonce));
    expect((await errorOf(stale.clone())).body.error).toBe('use_dpop_nonce');
    expect(stale.headers.get('dpop-nonce')).not.toBe(newer);
  });

  it('gives the same nonce from a second server on the same database', async () => {
    const other = await startTestServer({ dataDir: server.dataDir, config: { dpopNonce: true }, clockStart: server.clock.now() });
    try {
      const form = await pendingForm();
      const here = (await token(form, await proofWith())).headers.get('dpop-nonce');
      const there = await other.post('/token', { ...form }, { headers: { dpop: await proof(key, other.clock, `${other.url}/token`) } });
      expect(there.headers.get('dpop-nonce')).toBe(here);
    } finally {
      await other.close();
    }
  });
});
