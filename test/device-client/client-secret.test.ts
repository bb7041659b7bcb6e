import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTokenStore, OAuthResponseError, getAccessToken, startDeviceAuthorization } from '../../device-client/src/index.js';
import { clientSecretBasic } from '../../device-client/src/client-secret.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { manualTimers } from './manual-timers.js';

let server: TestServer;
let clientId: string;
let clientSecret: string;

beforeAll(async () => {
  server = await startTestServer();
  const client = await server.createClient({ name: 'Confidential box', type: 'confidential' });
  clientId = client.clientId;
  clientSecret = client.clientSecret!;
});
afterAll(() => server.stop());

describe('confidential device client (clientSecretBasic)', () => {
  it('pairs and refreshes with HTTP Basic client authentication', async () => {
    const timers = manualTimers(server.clock);
    const store = new MemoryTokenStore();
    const fetch = clientSecretBasic(clientId, clientSecret);
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, store, fetch });
    const tokens = auth.wait();
    await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
    (await timers.next()).fire();
    const pairing = await tokens;
    const refreshed = await getAccessToken(store, { force: true, fetch, timers });
    expect(refreshed).not.toBe(pairing.accessToken);
    expect((await store.load())!.refreshToken).not.toBe(pairing.refreshToken);
  });

  it('is refused with invalid_client when the secret is wrong, and without it', async () => {
    for (const fetch of [clientSecretBasic(clientId, `${clientSecret}x`), undefined]) {
      const error = await startDeviceAuthorization({ issuer: server.url, clientId, fetch }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OAuthResponseError);
      expect(error).toMatchObject({ error: 'invalid_client', status: 401 });
    }
  });

  it('form-encodes the client id before Basic (RFC 6749 Appendix B), so an id with colon, plus, percent and equals works', async () => {
    const awkward = await server.createClient({ id: 'box:1+a%b=c', name: 'Awkward box', type: 'confidential' });
    const fetch = clientSecretBasic(awkward.clientId, awkward.clientSecret!);
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId: awkward.clientId, fetch, push: false });
    expect(auth.userCode).toMatch(/^[A-Z]{4}-[A-Z]{5}$/);
  });
});
