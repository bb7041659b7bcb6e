// The push side of the metrics: the socket gauge follows real WebSocket sockets, an approval
// told over push is timed under channel="push", and the per-address cap counts as a limiter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { openPush, pushUrl, subscribe, type PushPeer } from '../push/push-client.js';
import { changes, scrape } from './scrape.js';

let server: TestServer;
let metricsUrl: string;
let clientId: string;
let userId: string;

beforeAll(async () => {
  server = await startTestServer({ config: { metricsPort: 0, pushMaxSocketsPerIp: 2 } });
  metricsUrl = server.metrics!.url;
  ({ clientId } = await server.createClient());
  ({ id: userId } = await server.createUser());
});
afterAll(() => server.stop());

const APPROVAL = 'kalm_approval_to_token_seconds';

async function authorize(): Promise<{ device_code: string; user_code: string }> {
  const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read' });
  return (await res.json()) as { device_code: string; user_code: string };
}

const sockets = async () => (await scrape(metricsUrl)).value('kalm_push_sockets');

/**
 * The server forgets a socket when its side of the close completes, a few turns of its event loop
 * after the peer saw it: scrape until the gauge says `expected` (each try a real request, no timer).
 */
async function socketsReach(expected: number): Promise<number> {
  let seen = await sockets();
  for (let tries = 0; seen !== expected && tries < 200; tries++) seen = await sockets();
  return seen;
}

describe('push metrics', () => {
  it('moves kalm_push_sockets with sockets opened and closed', async () => {
    expect(await sockets()).toBe(0);
    const auth = await authorize();
    const waiting = await subscribe(server, { device_code: auth.device_code });
    expect(await waiting.next()).toEqual({ type: 'subscribed', status: 'pending' });
    const idle = await openPush(pushUrl(server));
    expect(await sockets()).toBe(2);

    idle.ws.close();
    await idle.closed;
    expect(await socketsReach(1)).toBe(1);
    await server.core.deviceFlow.deny(auth.user_code, userId);
    expect(await waiting.next()).toEqual({ type: 'status', status: 'denied' });
    await waiting.closed;
    expect(await socketsReach(0)).toBe(0);
  });

  it('times an approval told over push under channel="push", from approval to tokens', async () => {
    const before = await scrape(metricsUrl);
    const auth = await authorize();
    const peer: PushPeer = await subscribe(server, { device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
    expect(await peer.next()).toEqual({ type: 'status', status: 'approved' });
    // The device asks for its tokens 40 ms (injected clock) after the approval.
    server.clock.advance(40);
    const res = await server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: auth.device_code, client_id: clientId });
    expect(res.status).toBe(200);

    const after = await scrape(metricsUrl);
    expect(changes(before, after, `${APPROVAL}_count`)).toEqual({ [`${APPROVAL}_count{channel="push"}`]: 1 });
    expect(changes(before, after, `${APPROVAL}_sum`)).toEqual({ [`${APPROVAL}_sum{channel="push"}`]: 0.04 });
    expect(after.value(`${APPROVAL}_bucket`, { channel: 'push', le: '0.025' }) - before.value(`${APPROVAL}_bucket`, { channel: 'push', le: '0.025' })).toBe(0);
    expect(after.value(`${APPROVAL}_bucket`, { channel: 'push', le: '0.05' }) - before.value(`${APPROVAL}_bucket`, { channel: 'push', le: '0.05' })).toBe(1);
    await peer.closed;
  });

  it('counts a socket over the per-address cap as rate limited (push_sockets)', async () => {
    await socketsReach(0);
    const before = await scrape(metricsUrl);
    const kept = [await openPush(pushUrl(server)), await openPush(pushUrl(server))];
    const refused = await openPush(pushUrl(server));
    expect((await refused.closed).code).toBe(4429);
    const after = await scrape(metricsUrl);
    expect(changes(before, after, 'kalm_rate_limited_total')).toEqual({ 'kalm_rate_limited_total{limiter="push_sockets"}': 1 });
    for (const peer of kept) peer.ws.close();
    await Promise.all(kept.map((peer) => peer.closed));
  });
});
