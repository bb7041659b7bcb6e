// `kalm device list|revoke` on the database of a running server, as an operator runs them beside
// it. The revocation is committed by the CLI's own process; the server reads it back from the
// database (core/cross-process.ts: PRAGMA data_version on SQLite, every 200 ms) and tells the
// device's push socket. The server's fake clock starts at the real time, as the CLI's clock is
// the real one: both stamp the same database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperatedDevice } from '../../server/src/core/paired-devices.js';
import { errorOf, refresh } from '../http/flow.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { subscribe } from '../push/push-client.js';
import { pairDevice } from './pairing.js';
import { CLI_TIMEOUT, runKalm, runKalmJson } from './run.js';

let server: TestServer;
const kalm = (...args: string[]) => runKalm(server.dataDir, args);
const kalmJson = <T>(...args: string[]) => runKalmJson<T>(server.dataDir, args);

let tv: string;
let box: string;
let alice: { id: string; username: string };
let bob: { id: string; username: string };

beforeAll(async () => {
  server = await startTestServer({ clockStart: Date.now() });
  ({ clientId: tv } = await server.createClient({ name: 'Living-room TV' }));
  ({ clientId: box } = await server.createClient({ name: 'Set-top box' }));
  alice = await server.createUser('alice');
  bob = await server.createUser('bob');
});
afterAll(() => server?.stop());

describe('kalm device list', { timeout: CLI_TIMEOUT }, () => {
  it('lists every paired device newest first, by account, by client and by both; never a revoked one', async () => {
    const aliceTv = await pairDevice(server, tv, alice.id, ['valuate:read', 'billing:read']);
    server.clock.advance(1_000);
    const aliceBox = await pairDevice(server, box, alice.id);
    server.clock.advance(1_000);
    const bobTv = await pairDevice(server, tv, bob.id);
    server.clock.advance(1_000);
    const gone = await pairDevice(server, box, bob.id);
    await server.core.pairedDevices.revoke(bob.id, gone.grantId);

    const [all, ofAlice, ofTv, aliceOnTv, text] = await Promise.all([
      kalmJson<OperatedDevice[]>('device', 'list'),
      kalmJson<OperatedDevice[]>('device', 'list', '--user', 'alice'),
      kalmJson<OperatedDevice[]>('device', 'list', '--client', tv),
      kalmJson<OperatedDevice[]>('device', 'list', '--user', 'alice', '--client', tv),
      kalm('device', 'list'),
    ]);
    const ids = (devices: OperatedDevice[]) => devices.map((d) => d.grantId);
    expect(ids(all)).toEqual([bobTv.grantId, aliceBox.grantId, aliceTv.grantId]);
    expect(ids(ofAlice)).toEqual([aliceBox.grantId, aliceTv.grantId]);
    expect(ids(ofTv)).toEqual([bobTv.grantId, aliceTv.grantId]);
    expect(ids(aliceOnTv)).toEqual([aliceTv.grantId]);
    expect(aliceOnTv[0]).toMatchObject({
      userId: alice.id,
      username: 'alice',
      clientId: tv,
      clientName: 'Living-room TV',
      scopes: ['valuate:read', 'billing:read'],
      requestIp: '127.0.0.1',
      approvedAt: expect.any(Number),
    });
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^GRANT_ID\tUSER\tCLIENT\t/);
    expect(lines.slice(1).map((l) => l.split('\t').slice(0, 2))).toEqual([
      [bobTv.grantId, 'bob'],
      [aliceBox.grantId, 'alice'],
      [aliceTv.grantId, 'alice'],
    ]);
    // Device lists name grants, never their tokens.
    for (const token of [aliceTv.access_token, aliceTv.refresh_token]) expect(text.stdout + JSON.stringify(all)).not.toContain(token);
  });

  it('refuses an unknown account or client with exit code 2', async () => {
    const [user, client] = await Promise.all([kalm('device', 'list', '--user', 'nobody'), kalm('device', 'list', '--client', 'no-such-client')]);
    expect(user).toMatchObject({ code: 2, stdout: '' });
    expect(user.stderr).toContain('no user "nobody"');
    expect(client).toMatchObject({ code: 2, stdout: '' });
    expect(client.stderr).toContain('no client "no-such-client"');
  });
});

describe('kalm device revoke', { timeout: CLI_TIMEOUT }, () => {
  it("tells the device's push socket on the running server revoked, and its tokens stop working", async () => {
    const device = await pairDevice(server, tv, alice.id);
    const peer = await subscribe(server, { access_token: device.access_token });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'paired' });

    const revoked = await kalmJson<OperatedDevice>('device', 'revoke', device.grantId);
    expect(revoked).toMatchObject({ grantId: device.grantId, username: 'alice', clientId: tv });
    // Committed by the CLI's process, read back by the server's cross-process feed, sent on the socket.
    expect(await peer.next()).toEqual({ type: 'status', status: 'revoked' });
    expect((await peer.closed).code).toBe(1000);

    expect(await errorOf(await refresh(server, { clientId: tv }, device.refresh_token))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await server.core.tokens.verifyAccessToken(device.access_token)).toBeUndefined();
    const left = await kalmJson<OperatedDevice[]>('device', 'list', '--user', 'alice');
    expect(left.map((d) => d.grantId)).not.toContain(device.grantId);
  });

  it('prints what it revoked in words', async () => {
    const device = await pairDevice(server, box, bob.id);
    const r = await kalm('device', 'revoke', device.grantId);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`device ${device.grantId} (${box} of bob) revoked\n`);
  });

  it('answers a grant id that is unknown or already revoked with exit code 2, and a missing one with the usage', async () => {
    const device = await pairDevice(server, tv, bob.id);
    await server.core.pairedDevices.revoke(bob.id, device.grantId);
    const [revokedAlready, unknown, missing] = await Promise.all([kalm('device', 'revoke', device.grantId), kalm('device', 'revoke', 'no-such-grant'), kalm('device', 'revoke')]);
    expect(revokedAlready).toMatchObject({ code: 2, stdout: '' });
    expect(revokedAlready.stderr).toBe(`kalm: no paired device "${device.grantId}": revoked already, or never paired (kalm device list shows them)\n`);
    expect(unknown.code).toBe(2);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('give the GRANT_ID');
    expect(missing.stderr).toContain('kalm device revoke GRANT_ID [--json]');
  });
});
