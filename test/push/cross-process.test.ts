// Two server processes on one database: a device waits on one (its push socket is there), the
// person decides through the other. The decision must reach the socket at once, not only at
// the device's next poll. The second process is `kalm serve` as a child on the test server's
// data directory, with the real clock; the test server's fake clock starts at the real time,
// so both processes see the same codes as live.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { startChildServer, type ChildServer } from '../reliability/support/child-server.js';
import { openPush, type PushPeer } from './push-client.js';

let here: TestServer;
let there: ChildServer;
let clientId: string;
let userId: string;

beforeAll(async () => {
  here = await startTestServer({ clockStart: Date.now() });
  ({ clientId } = await here.createClient());
  ({ id: userId } = await here.createUser());
  // Two processes of one deployment: one issuer (behind a load balancer in production).
  there = await startChildServer(here.dataDir, { PUBLIC_URL: here.url });
});
afterAll(async () => {
  await there?.stop();
  await here?.stop();
});

async function authorize(): Promise<{ device_code: string; user_code: string }> {
  const res = await here.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
  return (await res.json()) as { device_code: string; user_code: string };
}

/** A push socket on the other process, subscribed. */
async function subscribeThere(credential: { device_code: string } | { access_token: string }): Promise<PushPeer> {
  const peer = await openPush(`${there.url.replace(/^http/, 'ws')}/push`);
  peer.send({ type: 'subscribe', ...credential });
  return peer;
}

describe('push across server processes on one database', () => {
  it('tells a device waiting on the other process that it was approved here', async () => {
    const auth = await authorize();
    const peer = await subscribeThere({ device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    await here.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
    expect(await peer.next()).toEqual({ type: 'status', status: 'approved' });
    expect((await peer.closed).code).toBe(1000);
  });

  it('tells it a denial too', async () => {
    const auth = await authorize();
    const peer = await subscribeThere({ device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    await here.core.deviceFlow.deny(auth.user_code, userId);
    expect(await peer.next()).toEqual({ type: 'status', status: 'denied' });
  });

  it('tells a paired device watching on the other process that its pairing was revoked here', async () => {
    const auth = await authorize();
    await here.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
    const tokens = (await (await here.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId })).json()) as {
      access_token: string;
    };
    const peer = await subscribeThere({ access_token: tokens.access_token });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'paired' });
    await here.core.pairedDevices.revoke(userId, decodeJwt(tokens.access_token).grant_id as string);
    expect(await peer.next()).toEqual({ type: 'status', status: 'revoked' });
  });
});
