import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../server/src/config.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openPush, pushUrl, type PushPeer } from './push-client.js';

// The per-address socket cap (4429) behind a reverse proxy: it counts the client the proxy
// forwards in X-Forwarded-For when TRUST_PROXY names that proxy, and the socket's peer otherwise.

const CAP = 2;

async function serverWith(config: Partial<Config>): Promise<{ server: TestServer; deviceCode: string }> {
  const server = await startTestServer({ config: { pushMaxSocketsPerIp: CAP, ...config } });
  const { clientId } = await server.createClient();
  const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
  return { server, deviceCode: ((await res.json()) as { device_code: string }).device_code };
}

/** Open a socket as `from` and subscribe; resolves with the first thing the server says: a message or a close. */
async function connect(
  server: TestServer,
  deviceCode: string,
  from: { localAddress?: string; forwardedFor?: string },
): Promise<{ peer: PushPeer; first: Record<string, unknown> | { code: number } }> {
  const peer = await openPush(pushUrl(server), {
    ...(from.localAddress ? { localAddress: from.localAddress } : {}),
    headers: from.forwardedFor ? { 'x-forwarded-for': from.forwardedFor } : {},
  });
  peer.send({ type: 'subscribe', device_code: deviceCode });
  const first = await Promise.race([peer.next(), peer.closed.then(({ code }) => ({ code }))]);
  return { peer, first };
}

const ADMITTED = { type: 'subscribed', status: 'pending' };
const REFUSED = { code: 4429 };

function closeAll(peers: PushPeer[]): Promise<unknown> {
  for (const peer of peers) peer.ws.close();
  return Promise.all(peers.map((p) => p.closed));
}

describe('push socket cap without TRUST_PROXY', () => {
  let server: TestServer;
  let deviceCode: string;
  beforeAll(async () => ({ server, deviceCode } = await serverWith({})));
  afterAll(() => server.stop());

  it('ignores X-Forwarded-For and counts the socket address', async () => {
    const a = await connect(server, deviceCode, { localAddress: '127.0.0.50', forwardedFor: '203.0.113.1' });
    const b = await connect(server, deviceCode, { localAddress: '127.0.0.50', forwardedFor: '203.0.113.2' });
    const c = await connect(server, deviceCode, { localAddress: '127.0.0.50', forwardedFor: '203.0.113.3' });
    expect([a.first, b.first, c.first]).toEqual([ADMITTED, ADMITTED, REFUSED]);
    await closeAll([a.peer, b.peer]);
  });
});

describe('push socket cap with TRUST_PROXY=1', () => {
  let server: TestServer;
  let deviceCode: string;
  beforeAll(async () => ({ server, deviceCode } = await serverWith({ trustProxy: 1 })));
  afterAll(() => server.stop());

  it('gives two clients forwarded by the same proxy a cap each', async () => {
    const proxy = { localAddress: '127.0.0.51' };
    const a1 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.1' });
    const a2 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.1' });
    const a3 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.1' });
    const b1 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.2' });
    const b2 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.2' });
    expect([a1.first, a2.first, a3.first, b1.first, b2.first]).toEqual([ADMITTED, ADMITTED, REFUSED, ADMITTED, ADMITTED]);
    await closeAll([a1.peer, a2.peer, b1.peer, b2.peer]);
  });

  it('counts the address the proxy appended, not one the client wrote in front of it', async () => {
    const a = await connect(server, deviceCode, { forwardedFor: '192.0.2.1, 198.51.100.3' });
    const b = await connect(server, deviceCode, { forwardedFor: '192.0.2.2, 198.51.100.3' });
    const c = await connect(server, deviceCode, { forwardedFor: '192.0.2.3, 198.51.100.3' });
    const d = await connect(server, deviceCode, { forwardedFor: '192.0.2.3, 198.51.100.4' });
    expect([a.first, b.first, c.first, d.first]).toEqual([ADMITTED, ADMITTED, REFUSED, ADMITTED]);
    await closeAll([a.peer, b.peer, d.peer]);
  });
});

describe('push socket cap with TRUST_PROXY=127.0.0.1', () => {
  let server: TestServer;
  let deviceCode: string;
  beforeAll(async () => ({ server, deviceCode } = await serverWith({ trustProxy: ['127.0.0.1'] })));
  afterAll(() => server.stop());

  it('gives two clients forwarded by the listed proxy a cap each', async () => {
    const proxy = { localAddress: '127.0.0.1' };
    const a1 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.10' });
    const a2 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.10' });
    const a3 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.10' });
    const b1 = await connect(server, deviceCode, { ...proxy, forwardedFor: '198.51.100.11' });
    expect([a1.first, a2.first, a3.first, b1.first]).toEqual([ADMITTED, ADMITTED, REFUSED, ADMITTED]);
    await closeAll([a1.peer, a2.peer, b1.peer]);
  });

  it('ignores X-Forwarded-For from a peer that is not listed, and counts that peer', async () => {
    const stranger = { localAddress: '127.0.0.52' };
    const a = await connect(server, deviceCode, { ...stranger, forwardedFor: '198.51.100.20' });
    const b = await connect(server, deviceCode, { ...stranger, forwardedFor: '198.51.100.21' });
    const c = await connect(server, deviceCode, { ...stranger, forwardedFor: '198.51.100.22' });
    expect([a.first, b.first, c.first]).toEqual([ADMITTED, ADMITTED, REFUSED]);
    await closeAll([a.peer, b.peer]);
  });
});
