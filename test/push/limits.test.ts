import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openPush, pushUrl, subscribe } from './push-client.js';

// Short limits so that no test waits for the production 5 s or 30 s.
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ config: { pushAuthTimeoutMs: 150, pushMaxSocketsPerIp: 3, pushHeartbeatMs: 100 } });
});
afterAll(() => server.stop());

describe('WebSocket push limits', () => {
  it('closes with 4401 a socket that sends no subscribe message in time', async () => {
    const peer = await openPush(pushUrl(server));
    expect((await peer.closed).code).toBe(4401);
  });

  it('closes with 4429 the socket over the per-address cap, and accepts again once one closes', async () => {
    const { clientId } = await server.createClient();
    const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
    const { device_code } = (await res.json()) as { device_code: string };
    const peers = await Promise.all([1, 2, 3].map(() => subscribe(server, { device_code })));
    for (const peer of peers) expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });

    const over = await openPush(pushUrl(server));
    expect((await over.closed).code).toBe(4429);

    peers[0]!.ws.close();
    await peers[0]!.closed;
    // The server counts the socket out when its side closes, which may come a moment after ours.
    let again = await subscribe(server, { device_code });
    let first = await Promise.race([again.next(), again.closed]);
    while ('code' in first && first.code === 4429) {
      again = await subscribe(server, { device_code });
      first = await Promise.race([again.next(), again.closed]);
    }
    expect(first).toEqual({ type: 'subscribed', status: 'pending' });
    for (const peer of [...peers.slice(1), again]) peer.ws.close();
    await Promise.all([...peers.slice(1), again].map((p) => p.closed));
  });

  it('drops a peer that stops answering pings', async () => {
    const { clientId } = await server.createClient();
    const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
    const { device_code } = (await res.json()) as { device_code: string };
    const dead = await openPush(pushUrl(server), { autoPong: false });
    dead.send({ type: 'subscribe', device_code });
    expect(await dead.next()).toEqual({ type: 'subscribed', status: 'pending' });
    // Terminated by the server without a close frame: the peer sees 1006.
    expect((await dead.closed).code).toBe(1006);
    expect(server.core.expiry.size).toBe(0);
  });

  it('closes open sockets with 1001 when the server stops', async () => {
    const own = await startTestServer();
    const { clientId } = await own.createClient();
    const res = await own.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
    const { device_code } = (await res.json()) as { device_code: string };
    const peer = await subscribe(own, { device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    await own.stop();
    expect((await peer.closed).code).toBe(1001);
  });
});
