// `kalm client show|update|delete|rotate-secret` on the database of a running server: each
// change is checked on the server's protocol endpoints, which read the client on every request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientRecord } from '../../server/src/store/port/index.js';
import { authorize, errorOf, postAs, refresh } from '../http/flow.js';
import { GRANT_TYPES, startTestServer, type TestServer } from '../helpers/server.js';
import { subscribe } from '../push/push-client.js';
import { pairDevice } from './pairing.js';
import { CLI_TIMEOUT, runKalm, runKalmJson } from './run.js';

let server: TestServer;
const kalm = (...args: string[]) => runKalm(server.dataDir, args);
const kalmJson = <T>(...args: string[]) => runKalmJson<T>(server.dataDir, args);
let userId: string;

beforeAll(async () => {
  server = await startTestServer({ clockStart: Date.now() });
  ({ id: userId } = await server.createUser('alice'));
});
afterAll(() => server?.stop());

type ClientJson = Omit<ClientRecord, 'secretHash'>;

describe('kalm client', { timeout: CLI_TIMEOUT }, () => {
  it('shows a client, server defaults spelled out, never its secret or the hash of it', async () => {
    const { clientId, clientSecret } = await server.createClient({ name: 'Set-top box', type: 'confidential', ownerUserId: userId, devicePollInterval: 10 });
    const [json, text] = await Promise.all([kalmJson<ClientJson>('client', 'show', clientId), kalm('client', 'show', clientId)]);
    expect(json).toMatchObject({ id: clientId, name: 'Set-top box', type: 'confidential', devicePollInterval: 10, deviceCodeTtl: null, ownerUserId: userId });
    expect(json).not.toHaveProperty('secretHash');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^grants\s+device_code, refresh_token$/m);
    expect(text.stdout).toMatch(/^device codes\s+live 600 s \(server default\), poll every 10 s$/m);
    expect(text.stdout).toMatch(/^access tokens\s+ES256 \(server default\)$/m);
    expect(text.stdout).toMatch(/^owner\s+alice$/m);
    for (const secret of [clientSecret!, 'scrypt']) expect(text.stdout + JSON.stringify(json)).not.toContain(secret);
  });

  it('updates a client, and the running server answers with the new settings at once', async () => {
    const { clientId } = await server.createClient({ name: 'Doorbell', scopes: ['valuate:read'] });
    expect(await authorize(server, { clientId })).toMatchObject({ interval: 5, expires_in: 600 });

    const updated = await kalmJson<ClientJson>('client', 'update', clientId, '--name', 'Front doorbell', '--interval', '7', '--expires-in', '120', '--scope', 'valuate:read billing:read', '--require-dpop');
    expect(updated).toMatchObject({ id: clientId, name: 'Front doorbell', devicePollInterval: 7, deviceCodeTtl: 120, scopes: ['valuate:read', 'billing:read'], requireDpop: true });
    // DPoP is now required of this client's token requests, not of its device authorization.
    expect(await authorize(server, { clientId }, 'billing:read')).toMatchObject({ interval: 7, expires_in: 120 });

    const reset = await kalmJson<ClientJson>('client', 'update', clientId, '--interval', 'default', '--no-require-dpop', '--grant', 'device_code');
    expect(reset).toMatchObject({ devicePollInterval: null, deviceCodeTtl: 120, requireDpop: false, grantTypes: [GRANT_TYPES.deviceCode] });
    expect(await authorize(server, { clientId })).toMatchObject({ interval: 5 });
    expect(await kalmJson<ClientJson>('client', 'show', clientId)).toEqual(reset);
  });

  it('refuses an update the rules of create refuse, changing nothing', async () => {
    const { clientId } = await server.createClient({ name: 'Kiosk' });
    const cases: Array<[string[], number, string]> = [
      [['--scope', 'launch:missiles'], 1, 'unknown scope "launch:missiles"'],
      [['--grant', 'client_credentials'], 1, 'client_credentials needs a confidential client'],
      [['--interval', '0'], 1, 'polling interval must be an integer from 1 to 600 seconds'],
      [['--interval', 'soon'], 2, '--interval takes a whole number of seconds'],
      [['--grant', 'password'], 2, 'unknown grant "password"'],
      [['--alg', 'HS256'], 2, '--alg is ES256 or RS256'],
      [['--require-dpop', '--no-require-dpop'], 2, 'not both'],
      [[], 2, 'nothing to change'],
      [['--colour', 'blue'], 2, "Unknown option '--colour'"],
    ];
    const results = await Promise.all(cases.map(([args]) => kalm('client', 'update', clientId, ...args)));
    results.forEach((r, i) => {
      const [args, code, message] = cases[i]!;
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toContain(message);
      if (code === 2) expect(r.stderr).toContain('kalm client update CLIENT_ID');
    });
    expect(await server.core.clients.get(clientId)).toMatchObject({ name: 'Kiosk', devicePollInterval: null });
  });

  it("rotates a confidential client's secret: the new one works on the running server, the old one stops at once", async () => {
    const { clientId, clientSecret: oldSecret } = await server.createClient({ name: 'Backend', type: 'confidential' });
    const asOld = { clientId, clientSecret: oldSecret!, method: 'basic' as const };
    // The server has checked (and cached) the old secret before the rotation.
    expect((await postAs(server, '/device_authorization', asOld, {})).status).toBe(200);

    const rotated = await kalmJson<{ client_id: string; client_secret: string }>('client', 'rotate-secret', clientId);
    expect(rotated.client_id).toBe(clientId);
    expect(rotated.client_secret).not.toBe(oldSecret);
    expect(await errorOf(await postAs(server, '/device_authorization', asOld, {}))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect((await postAs(server, '/device_authorization', { ...asOld, clientSecret: rotated.client_secret }, {})).status).toBe(200);

    const text = await kalm('client', 'rotate-secret', clientId);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^client_secret [A-Za-z0-9_-]{43}$/m);
    expect(text.stdout).toContain('shown only now');
  });

  it('refuses to rotate the secret of a public client, which has none', async () => {
    const { clientId } = await server.createClient({ name: 'TV' });
    const r = await kalm('client', 'rotate-secret', clientId);
    expect(r).toMatchObject({ code: 1, stdout: '', stderr: `kalm: client "${clientId}" is public and has no secret\n` });
  });

  it('deletes a client: its paired devices are revoked first, its tokens stop, it is gone', async () => {
    const { clientId } = await server.createClient({ name: 'Old TV' });
    const device = await pairDevice(server, clientId, userId);
    const deleted = await kalmJson<Record<string, unknown>>('client', 'delete', clientId);
    expect(deleted).toEqual({ client_id: clientId, deleted: true, revoked_devices: 1 });
    expect(await server.core.tokens.verifyAccessToken(device.access_token)).toBeUndefined();
    expect(await errorOf(await refresh(server, { clientId }, device.refresh_token))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await errorOf(await postAs(server, '/device_authorization', { clientId }, {}))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    // A socket subscribed with a token of the deleted client is refused.
    const peer = await subscribe(server, { access_token: device.access_token });
    expect((await peer.closed).code).toBe(4404);
    const shown = await kalm('client', 'show', clientId);
    expect(shown).toMatchObject({ code: 2, stdout: '', stderr: `kalm: no client "${clientId}" (kalm client list shows them)\n` });
  });

  it('answers an unknown client id with exit code 2 on every command that names one, and a missing one with the usage', async () => {
    const unknown = await Promise.all([
      kalm('client', 'show', 'no-such-client'),
      kalm('client', 'update', 'no-such-client', '--name', 'x'),
      kalm('client', 'delete', 'no-such-client'),
      kalm('client', 'rotate-secret', 'no-such-client'),
    ]);
    for (const r of unknown) expect(r).toMatchObject({ code: 2, stdout: '', stderr: 'kalm: no client "no-such-client" (kalm client list shows them)\n' });
    const missing = await kalm('client', 'show');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('give the CLIENT_ID');
  });
});
