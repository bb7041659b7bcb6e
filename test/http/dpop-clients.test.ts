/**
 * Clients that must use DPoP (RFC 9449 §5.2): `kalm client create --require-dpop` and RFC 7591
 * `dpop_bound_access_tokens` at `/register`; their token requests without a proof are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kalmCli } from '../helpers/kalm-cli.js';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { dpopKey, proof } from './dpop-proofs.js';
import { errorOf } from './flow.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.stop());

const kalm = (...args: string[]) => kalmCli(server.dataDir, ...args);

/** A device authorization and a poll of it without a proof, then with one. */
async function pollWithoutThenWithProof(clientId: string) {
  const flow = (await (await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' })).json()) as { device_code: string };
  const form = { grant_type: GRANT_TYPES.deviceCode, device_code: flow.device_code, client_id: clientId };
  const without = await errorOf(await server.post('/token', form));
  const dpop = await proof(await dpopKey(), server.clock, `${server.url}/token`);
  const withProof = await errorOf(await server.post('/token', form, { headers: { dpop } }));
  return { without, withProof };
}

describe('clients that must use DPoP', () => {
  it('kalm client create --require-dpop makes one, client list shows it, and its token requests need a proof', async () => {
    const { stdout } = await kalm('client', 'create', '--name', 'Bound TV', '--public', '--grant', 'device_code', '--scope', 'valuate:read', '--require-dpop', '--json');
    const { client_id: clientId } = JSON.parse(stdout) as { client_id: string };
    const listed = JSON.parse((await kalm('client', 'list', '--json')).stdout) as Array<{ id: string; requireDpop: boolean }>;
    expect(listed.find((c) => c.id === clientId)?.requireDpop).toBe(true);
    const line = (await kalm('client', 'list')).stdout.split('\n').find((l) => l.startsWith(clientId));
    expect(line).toContain('dpop: required');
    const { without, withProof } = await pollWithoutThenWithProof(clientId);
    expect(without).toMatchObject({ status: 400, body: { error: 'invalid_dpop_proof' } });
    expect(withProof.body.error).toBe('authorization_pending');
  });

  it('registers dpop_bound_access_tokens at /register, echoes it, and holds the client to it', async () => {
    const { token } = await server.core.registration.issueInitialAccessToken({ ownerUserId: null, expiresIn: 3600, uses: 3 });
    const register = (metadata: Record<string, unknown>) =>
      fetch(`${server.url}/register`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(metadata) });
    const tv = { client_name: 'TV', grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], token_endpoint_auth_method: 'none', scope: 'valuate:read' };
    const bad = await register({ ...tv, dpop_bound_access_tokens: 'yes' });
    expect(await errorOf(bad)).toMatchObject({ status: 400, body: { error: 'invalid_client_metadata' } });
    const res = await register({ ...tv, dpop_bound_access_tokens: true });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { client_id: string; dpop_bound_access_tokens: boolean };
    expect(body.dpop_bound_access_tokens).toBe(true);
    expect((await pollWithoutThenWithProof(body.client_id)).without.body.error).toBe('invalid_dpop_proof');
    const plain = (await (await register(tv)).json()) as { client_id: string; dpop_bound_access_tokens: boolean };
    expect(plain.dpop_bound_access_tokens).toBe(false);
    expect((await pollWithoutThenWithProof(plain.client_id)).without.body.error).toBe('authorization_pending');
  });
});
