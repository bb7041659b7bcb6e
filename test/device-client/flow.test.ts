import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  AccessDeniedError,
  ExpiredTokenError,
  MemoryTokenStore,
  OAuthResponseError,
  startDeviceAuthorization,
  type WaitStatus,
} from '../../device-client/src/index.js';
import { accessTokenClaims } from '../../device-client/src/claims.js';
import { fakeClock } from '../helpers/clock.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { manualTimers } from './manual-timers.js';

let server: TestServer;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId } = await server.createClient({ name: 'Living-room TV' }));
});
afterAll(() => server.stop());

/** Device-code polls the server has seen so far (from its request log). */
const tokenRequests = () => server.logLines().filter((l) => l.path === '/token').length;

function start(scope = 'valuate:read billing:read', extra: { clientId?: string; timers?: ReturnType<typeof manualTimers> } = {}) {
  const timers = extra.timers ?? manualTimers(server.clock);
  return startDeviceAuthorization({ issuer: server.url, clientId: extra.clientId ?? clientId, scope, timers, push: false }).then((auth) => ({ auth, timers }));
}

describe('device client against the real server', () => {
  it('discovers the endpoints, polls at the interval and resolves with tokens once the person approves', async () => {
    const store = new MemoryTokenStore();
    const timers = manualTimers(server.clock);
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: ['valuate:read', 'billing:read'], timers, store, push: false });
    expect(auth.userCode).toMatch(/^[A-Z]{4}-[A-Z]{5}$/);
    expect(auth.verificationUri).toBe(`${server.url}/device`);
    expect(auth.verificationUriComplete).toBe(`${server.url}/device?user_code=${auth.userCode}`);
    expect(auth.interval).toBe(5);
    expect(auth.expiresAt).toBe(server.clock.now() + 600_000);

    const statuses: WaitStatus[] = [];
    const tokens = auth.wait({ onStatus: (s) => statuses.push(s) });
    const first = await timers.next();
    expect(first.ms).toBe(5_000);
    first.fire();
    const second = await timers.next();
    expect(statuses).toEqual([{ type: 'pending' }]);
    expect(second.ms).toBe(5_000);

    const user = await server.createUser();
    await server.core.deviceFlow.approve(auth.userCode, user.id, ['billing:read']);
    second.fire();
    const pairing = await tokens;
    expect(pairing).toMatchObject({ tokenType: 'Bearer', scope: 'billing:read', clientId, tokenEndpoint: `${server.url}/token` });
    expect(pairing.expiresAt).toBe(server.clock.now() + 3_600_000);
    expect(pairing.refreshToken).toEqual(expect.any(String));
    expect(accessTokenClaims(pairing.accessToken)).toMatchObject({ sub: user.id, client_id: clientId, scope: 'billing:read' });
    expect(await store.load()).toEqual(pairing);
    expect(timers.live()).toEqual([]);
  });

  it('waits interval + 5 s after a slow_down answer, and keeps the longer interval', async () => {
    const { auth, timers } = await start();
    const statuses: WaitStatus[] = [];
    const tokens = auth.wait({ onStatus: (s) => statuses.push(s) });
    (await timers.next()).fire(); // first poll: pending
    // Fire the next timer after only 1 s of server time: the server answers slow_down.
    (await timers.next()).fire(1_000);
    const afterSlowDown = await timers.next();
    expect(statuses).toEqual([{ type: 'pending' }, { type: 'slow_down', interval: 10 }]);
    expect(afterSlowDown.ms).toBe(10_000);
    afterSlowDown.fire();
    const next = await timers.next();
    expect(statuses.at(-1)).toEqual({ type: 'pending' });
    expect(next.ms).toBe(10_000);

    await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
    next.fire();
    expect((await tokens).scope).toBe('valuate:read');
  });

  it('rejects with AccessDeniedError when the person denies', async () => {
    const { auth, timers } = await start();
    const tokens = auth.wait();
    await server.core.deviceFlow.deny(auth.userCode);
    (await timers.next()).fire();
    const error = await tokens.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessDeniedError);
    expect(error).toMatchObject({ error: 'access_denied', status: 400, description: expect.stringContaining('denied') });
  });

  it('rejects with ExpiredTokenError when the server answers expired_token', async () => {
    // The device's clock lags the server's: the server decides that the code expired.
    const deviceClock = fakeClock(server.clock.now());
    const { auth, timers } = await start(undefined, { timers: manualTimers(deviceClock) });
    const tokens = auth.wait();
    server.clock.advance(601_000);
    (await timers.next()).fire();
    const error = await tokens.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExpiredTokenError);
    expect(error).toMatchObject({ error: 'expired_token', status: 400 });
  });

  it('stops with ExpiredTokenError at expires_in without polling again', async () => {
    const short = await server.createClient({ name: 'Short-lived', deviceCodeTtl: 60 });
    const { auth, timers } = await start(undefined, { clientId: short.clientId });
    expect(auth.expiresIn).toBe(60);
    const tokens = auth.wait();
    (await timers.next()).fire(); // pending at 5 s
    server.clock.advance(50_000); // 55 s gone
    const capped = await timers.next();
    // The timer was set for the full interval; when it fires, the codes are past expiry.
    capped.fire(6_000);
    const polls = tokenRequests();
    expect(polls).toBeGreaterThan(0);
    const error = await tokens.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExpiredTokenError);
    expect(error).toMatchObject({ error: 'expired_token', status: 0 });
    expect(tokenRequests()).toBe(polls);
  });

  it('never schedules a sleep past the expiry', async () => {
    const short = await server.createClient({ name: 'Short-lived 2', deviceCodeTtl: 60 });
    const { auth, timers } = await start(undefined, { clientId: short.clientId });
    const tokens = auth.wait().catch((e: unknown) => e);
    server.clock.advance(57_000);
    (await timers.next()).fire(0); // the first poll happens at 57 s: pending
    // 3 s are left: the next sleep asks for those, not the 5 s interval.
    const last = await timers.next();
    expect(last.ms).toBe(3_000);
    last.fire();
    expect(await tokens).toBeInstanceOf(ExpiredTokenError);
  });

  it('rejects with AbortedError when aborted, and leaves no timer behind', async () => {
    const { auth, timers } = await start();
    const controller = new AbortController();
    const tokens = auth.wait({ signal: controller.signal });
    await timers.next();
    controller.abort(new Error('user pressed back'));
    const error = await tokens.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toEqual(new Error('user pressed back'));
    expect(timers.live()).toEqual([]);
  });

  it('rejects with AbortedError when the device authorization request itself is aborted', async () => {
    const error = await startDeviceAuthorization({ issuer: server.url, clientId, signal: AbortSignal.abort(new Error('gone')) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
  });

  it('rejects an unknown client with an OAuthResponseError carrying the code', async () => {
    const error = await start(undefined, { clientId: 'no-such-client' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthResponseError);
    expect(error).toMatchObject({ error: 'invalid_client', status: 401 });
  });
});
