import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { startTestServer, GRANT_TYPES, type TestServer } from '../helpers/server.js';
import { openPush, pushUrl, refusedUpgradeStatus, subscribe } from './push-client.js';

let server: TestServer;
let clientId: string;
let userId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId } = await server.createClient());
  ({ id: userId } = await server.createUser());
});
afterAll(() => server.stop());

interface Authorization {
  device_code: string;
  user_code: string;
  interval: number;
  expires_in: number;
  push_uri: string;
}

async function authorize(): Promise<Authorization> {
  const res = await server.post('/device_authorization', { client_id: clientId, scope: 'valuate:read billing:read' });
  expect(res.status).toBe(200);
  return (await res.json()) as Authorization;
}

function poll(deviceCode: string) {
  return server.post('/token', { grant_type: GRANT_TYPES.deviceCode, device_code: deviceCode, client_id: clientId });
}

async function pairedDevice() {
  const auth = await authorize();
  await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
  const res = await poll(auth.device_code);
  expect(res.status).toBe(200);
  const tokens = (await res.json()) as { access_token: string; refresh_token: string };
  return { ...tokens, grantId: decodeJwt(tokens.access_token).grant_id as string };
}

describe('WebSocket push: advertising', () => {
  it('advertises the endpoint in the metadata and the device authorization response', async () => {
    const expected = `${server.url.replace('http:', 'ws:')}/push`;
    const metadata = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(metadata.device_push_endpoint).toBe(expected);
    expect((await authorize()).push_uri).toBe(expected);
  });
});

describe('WebSocket push: a waiting device', () => {
  it('is told approved at once, and its immediate /token call gets tokens, never slow_down', async () => {
    const auth = await authorize();
    // The device polled just now, so by the interval its next poll would be early.
    expect(await (await poll(auth.device_code)).json()).toMatchObject({ error: 'authorization_pending' });
    const peer = await subscribe(server, { device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });

    await server.core.deviceFlow.approve(auth.user_code, userId, ['billing:read']);
    expect(await peer.next()).toEqual({ type: 'status', status: 'approved' });
    expect((await peer.closed).code).toBe(1000);

    const res = await poll(auth.device_code);
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { access_token: string; scope: string };
    expect(tokens.scope).toBe('billing:read');
    const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${server.url}/jwks.json`)), {
      issuer: server.core.config.publicUrl,
      currentDate: new Date(server.clock.now()),
    });
    expect(payload.sub).toBe(userId);
  });

  it('tells every socket waiting on the same code', async () => {
    const auth = await authorize();
    const peers = await Promise.all([1, 2].map(() => subscribe(server, { device_code: auth.device_code })));
    for (const peer of peers) expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
    for (const peer of peers) expect(await peer.next()).toEqual({ type: 'status', status: 'approved' });
  });

  it('is told denied, and closed normally', async () => {
    const auth = await authorize();
    const peer = await subscribe(server, { device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    await server.core.deviceFlow.deny(auth.user_code, userId);
    expect(await peer.next()).toEqual({ type: 'status', status: 'denied' });
    expect((await peer.closed).code).toBe(1000);
    expect(await (await poll(auth.device_code)).json()).toMatchObject({ error: 'access_denied' });
  });

  it('is told expired when the code runs out undecided', async () => {
    const auth = await authorize();
    const peer = await subscribe(server, { device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    expect(await server.core.expiry.sweep()).toBe(0);
    server.clock.advance(auth.expires_in * 1000);
    expect(await server.core.expiry.sweep()).toBe(1);
    expect(await peer.next()).toEqual({ type: 'status', status: 'expired' });
    expect((await peer.closed).code).toBe(1000);
    expect(server.core.expiry.size).toBe(0);
  });

  it('is told the decision at once when it subscribes after it was taken', async () => {
    const auth = await authorize();
    await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
    const peer = await subscribe(server, { device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'approved' });
    expect((await peer.closed).code).toBe(1000);
  });

  it('hears a decision taken while its subscription is being set up', async () => {
    for (let i = 0; i < 20; i++) {
      const auth = await authorize();
      const peer = await openPush(pushUrl(server));
      // The approval races the server's lookup of the code: a lost event would leave the peer pending.
      peer.send({ type: 'subscribe', device_code: auth.device_code });
      await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
      const first = await peer.next();
      const told = first.type === 'subscribed' && first.status === 'pending' ? await peer.next() : first;
      expect(told).toMatchObject({ status: 'approved' });
      expect((await peer.closed).code).toBe(1000);
    }
  });

  it('still completes the flow by polling after its socket is cut mid-wait', async () => {
    const auth = await authorize();
    const peer = await subscribe(server, { device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    peer.ws.terminate();
    await peer.closed;
    await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
    server.clock.advance(auth.interval * 1000);
    const res = await poll(auth.device_code);
    expect(res.status).toBe(200);
    expect(await res.json()).toHaveProperty('access_token');
  });
});

describe('WebSocket push: refusals', () => {
  it.each(['device_code', 'access_token', 'token'])('refuses the upgrade with 400 when the URL carries %s', async (name) => {
    const auth = await authorize();
    expect(await refusedUpgradeStatus(pushUrl(server, `?${name}=${auth.device_code}`))).toBe(400);
    expect(server.logText()).not.toContain(auth.device_code);
  });

  it('answers 404 to an upgrade on any other path', async () => {
    expect(await refusedUpgradeStatus(`${server.url.replace('http', 'ws')}/token`)).toBe(404);
  });

  it('serves a request that offers another upgrade (h2c) as plain HTTP, body included', async () => {
    const answer = (method: string, path: string, body?: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const headers: Record<string, string> = { Connection: 'Upgrade, HTTP2-Settings', Upgrade: 'h2c', 'HTTP2-Settings': 'AAMAAABkAAQCAAAAAAIAAAAA' };
        if (body) Object.assign(headers, { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(Buffer.byteLength(body)) });
        const req = request(`${server.url}${path}`, { method, headers });
        req.once('upgrade', () => reject(new Error('upgraded')));
        req.once('error', reject);
        req.once('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.end(body);
      });
    expect((await answer('GET', '/healthz')).status).toBe(200);
    const authorized = await answer('POST', '/device_authorization', new URLSearchParams({ client_id: clientId, scope: 'valuate:read' }).toString());
    expect(authorized.status).toBe(200);
    expect(JSON.parse(authorized.body)).toHaveProperty('device_code');
  });

  it('answers a HEAD WebSocket upgrade with headers only', async () => {
    for (const [path, status] of [['/token', 404], ['/push', 405]] as const) {
      const res = await new Promise<{ status: number; length: number }>((resolve, reject) => {
        const req = request(`${server.url}${path}`, { method: 'HEAD', headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
        req.once('error', reject);
        req.once('response', (r) => {
          let length = 0;
          r.on('data', (c: Buffer) => (length += c.length));
          r.once('end', () => resolve({ status: r.statusCode ?? 0, length }));
        });
        req.end();
      });
      expect(res).toEqual({ status, length: 0 });
    }
  });

  it.each([
    ['text that is not JSON', 'hello'],
    ['a JSON array', '[]'],
    ['another message type', JSON.stringify({ type: 'hello', device_code: 'x' })],
    ['a subscribe without credential', JSON.stringify({ type: 'subscribe' })],
    ['a subscribe with both credentials', JSON.stringify({ type: 'subscribe', device_code: 'a', access_token: 'b' })],
    ['a binary frame', Buffer.from(JSON.stringify({ type: 'subscribe', device_code: 'a' }))],
  ])('closes with 4400 on %s', async (_name, frame) => {
    const peer = await openPush(pushUrl(server));
    peer.send(frame);
    expect((await peer.closed).code).toBe(4400);
  });

  it('closes with 4400 on a second message after subscribing', async () => {
    const auth = await authorize();
    const peer = await subscribe(server, { device_code: auth.device_code });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'pending' });
    peer.send({ type: 'subscribe', device_code: auth.device_code });
    expect((await peer.closed).code).toBe(4400);
    expect(server.core.expiry.size).toBe(0);
  });

  it('closes with 1009 on a frame over 4 KiB', async () => {
    const peer = await openPush(pushUrl(server));
    peer.send({ type: 'subscribe', device_code: 'x'.repeat(5000) });
    expect((await peer.closed).code).toBe(1009);
  });

  it('closes with 4404 on an unknown device code', async () => {
    const peer = await subscribe(server, { device_code: 'no-such-code' });
    expect((await peer.closed).code).toBe(4404);
  });

  it('closes with 4404 on a device code already redeemed', async () => {
    const auth = await authorize();
    await server.core.deviceFlow.approve(auth.user_code, userId, ['valuate:read']);
    expect((await poll(auth.device_code)).status).toBe(200);
    const peer = await subscribe(server, { device_code: auth.device_code });
    expect((await peer.closed).code).toBe(4404);
  });

  it('closes with 4404 on an expired device code', async () => {
    const auth = await authorize();
    server.clock.advance(auth.expires_in * 1000);
    const peer = await subscribe(server, { device_code: auth.device_code });
    expect((await peer.closed).code).toBe(4404);
  });

  it('closes with 4404 on an access token that does not verify', async () => {
    const { access_token } = await pairedDevice();
    const peer = await subscribe(server, { access_token: `${access_token.slice(0, -4)}AAAA` });
    expect((await peer.closed).code).toBe(4404);
  });
});

describe('WebSocket push: a paired device', () => {
  it('is told revoked when its grant is revoked', async () => {
    const device = await pairedDevice();
    const peer = await subscribe(server, { access_token: device.access_token });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'paired' });
    expect(await server.core.tokens.revokeGrant(device.grantId)).toBe(true);
    expect(await peer.next()).toEqual({ type: 'status', status: 'revoked' });
    expect((await peer.closed).code).toBe(1000);
  });

  it('is told revoked when a spent refresh token of its family comes back', async () => {
    const device = await pairedDevice();
    const peer = await subscribe(server, { access_token: device.access_token });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'paired' });
    const refresh = (token: string) => server.post('/token', { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });
    expect((await refresh(device.refresh_token)).status).toBe(200);
    const reuse = await refresh(device.refresh_token);
    expect(await reuse.json()).toMatchObject({ error: 'invalid_grant' });
    expect(await peer.next()).toEqual({ type: 'status', status: 'revoked' });
    expect((await peer.closed).code).toBe(1000);
  });

  it('is told revoked when the app revokes its refresh token at /revoke', async () => {
    const device = await pairedDevice();
    const peer = await subscribe(server, { access_token: device.access_token });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'paired' });
    const res = await server.post('/revoke', { token: device.refresh_token, token_type_hint: 'refresh_token', client_id: clientId });
    expect(res.status).toBe(200);
    expect(await peer.next()).toEqual({ type: 'status', status: 'revoked' });
  });

  it('stays subscribed after its access token is refreshed, and is told when the grant is revoked', async () => {
    const device = await pairedDevice();
    const peer = await subscribe(server, { access_token: device.access_token });
    expect(await peer.next()).toEqual({ type: 'subscribed', status: 'paired' });
    const refreshed = await server.post('/token', { grant_type: 'refresh_token', refresh_token: device.refresh_token, client_id: clientId });
    expect(refreshed.status).toBe(200);
    await server.core.tokens.revokeGrant(device.grantId);
    expect(await peer.next()).toEqual({ type: 'status', status: 'revoked' });
  });

  it('closes with 4404 when the grant is already revoked', async () => {
    const device = await pairedDevice();
    await server.core.tokens.revokeGrant(device.grantId);
    const peer = await subscribe(server, { access_token: device.access_token });
    expect((await peer.closed).code).toBe(4404);
  });
});
