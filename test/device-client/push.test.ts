import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryTokenStore, startDeviceAuthorization, type WaitStatus } from '../../device-client/src/index.js';
import { accessTokenClaims } from '../../device-client/src/claims.js';
import { runtimePush, watchPairing, webSocketPush, type WebSocketConstructor } from '../../device-client/src/push.js';
import { nodePush } from '../../device-client/src/node/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { manualTimers } from './manual-timers.js';

let server: TestServer;
let clientId: string;

beforeAll(async () => {
  server = await startTestServer();
  ({ clientId } = await server.createClient({ name: 'Push TV' }));
});
afterAll(() => server.stop());

/** `ws`'s WebSocket, remembering every socket it opens so a test can cut one. */
function recordingWebSocket() {
  const sockets: WebSocket[] = [];
  class Recording extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  return { sockets, push: webSocketPush(Recording as unknown as WebSocketConstructor) };
}

/** Resolves when `onStatus` has reported a status matching `predicate`. */
function statusWatcher() {
  const seen: WaitStatus[] = [];
  const waiters: Array<{ predicate: (s: WaitStatus) => boolean; resolve: () => void }> = [];
  return {
    seen,
    onStatus(status: WaitStatus) {
      seen.push(status);
      for (const w of waiters.filter((w) => w.predicate(status))) w.resolve();
    },
    until(predicate: (s: WaitStatus) => boolean) {
      return seen.some(predicate) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

describe('push channel of the device client', () => {
  it('opens no socket unless a push channel is given, even where the runtime has a WebSocket: it polls', async () => {
    const sockets: WebSocket[] = [];
    const runtime = globalThis as { WebSocket?: unknown };
    const before = runtime.WebSocket;
    runtime.WebSocket = class extends WebSocket {
      constructor(url: string) {
        super(url);
        sockets.push(this);
      }
    };
    try {
      const timers = manualTimers(server.clock);
      const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers });
      expect(auth.pushUri).toBeDefined();
      const status = statusWatcher();
      const tokens = auth.wait({ onStatus: status.onStatus });
      await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
      (await timers.next()).fire();
      await tokens;
      expect(sockets).toEqual([]);
      expect(status.seen.some((s) => s.type === 'push')).toBe(false);
      // runtimePush() is how an app opts in to that WebSocket.
      expect(runtimePush()).toBeTypeOf('function');
    } finally {
      runtime.WebSocket = before;
    }
    if (!before) expect(runtimePush()).toBeUndefined();
  });

  it('learns the push URL from the server and redeems at once when push says approved', async () => {
    const timers = manualTimers(server.clock);
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, push: await nodePush() });
    expect(auth.pushUri).toBe(`${server.url.replace('http', 'ws')}/push`);
    const status = statusWatcher();
    const tokens = auth.wait({ onStatus: status.onStatus });
    const sleep = await timers.next();
    await status.until((s) => s.type === 'push' && s.status === 'pending');
    await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
    const pairing = await tokens;
    expect(pairing.scope).toBe('valuate:read');
    // The 5 s sleep was cut short: no timer fired, none is left.
    expect(sleep.cancelled).toBe(true);
    expect(timers.live()).toEqual([]);
    expect(status.seen).toContainEqual({ type: 'push', status: 'approved' });
  });

  it('falls back to polling when the socket is cut mid-wait', async () => {
    const timers = manualTimers(server.clock);
    const { sockets, push } = recordingWebSocket();
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, push });
    const status = statusWatcher();
    const tokens = auth.wait({ onStatus: status.onStatus });
    await status.until((s) => s.type === 'push' && s.status === 'pending');
    sockets[0]!.terminate();
    await status.until((s) => s.type === 'push' && s.status === 'closed');
    (await timers.next()).fire(); // pending
    await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
    (await timers.next()).fire();
    expect((await tokens).scope).toBe('valuate:read');
  });

  it('polls on when the push channel cannot be reached', async () => {
    const timers = manualTimers(server.clock);
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, timers, push: await nodePush() });
    auth.pushUri = 'ws://127.0.0.1:1/push';
    const status = statusWatcher();
    const tokens = auth.wait({ onStatus: status.onStatus });
    await status.until((s) => s.type === 'push' && s.status === 'closed');
    await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
    (await timers.next()).fire();
    expect((await tokens).accessToken).toEqual(expect.any(String));
  });

  it('tells a paired device that its owner revoked it, and forgets the pairing', async () => {
    const timers = manualTimers(server.clock);
    const { sockets, push } = recordingWebSocket();
    const store = new MemoryTokenStore();
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, store, push: false });
    const tokens = auth.wait();
    await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
    (await timers.next()).fire();
    const pairing = await tokens;
    expect(pairing.pushUri).toBe(auth.pushUri);

    const revoked = new Promise<void>((resolve) => watchPairing(store, { push, timers, onRevoked: resolve }));
    // Wait until the server has confirmed the subscription.
    await new Promise<void>((resolve) => {
      const poll = () => (sockets[0] ? sockets[0].once('message', () => resolve()) : setImmediate(poll));
      poll();
    });
    await server.core.tokens.revokeGrant(accessTokenClaims(pairing.accessToken)!.grant_id as string);
    await revoked;
    expect(await store.load()).toBeUndefined();
  });

  it('finds a pairing revoked while it was away: the server refuses its token, the refresh is refused, onRevoked', async () => {
    const timers = manualTimers(server.clock);
    const store = new MemoryTokenStore();
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, store, push: false });
    const tokens = auth.wait();
    await server.core.deviceFlow.approve(auth.userCode, (await server.createUser()).id, ['valuate:read']);
    (await timers.next()).fire();
    const pairing = await tokens;
    await server.core.tokens.revokeGrant(accessTokenClaims(pairing.accessToken)!.grant_id as string);

    const statuses: string[] = [];
    await new Promise<void>((resolve) => watchPairing(store, { push: webSocketPush(WebSocket as unknown as WebSocketConstructor), timers, onStatus: (s) => statuses.push(s), onRevoked: resolve }));
    expect(statuses).toEqual(['closed']);
    expect(await store.load()).toBeUndefined();
    expect(timers.live()).toEqual([]);
  });
});
