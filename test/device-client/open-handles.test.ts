// Issue 17, part 1: once wait() resolves, rejects or is aborted, nothing the device client
// opened is left: no socket to the server (fetch's pooled keep-alive connections included),
// no push socket, no timer. An embedding app must be able to end (or a Node process exit) right
// after, and `kalm-device login` relies on exactly that.
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  AccessDeniedError,
  ExpiredTokenError,
  getAccessToken,
  MemoryTokenStore,
  OAuthResponseError,
  startDeviceAuthorization,
  systemTimers,
  type PushSubscribe,
  type WaitStatus,
} from '../../device-client/src/index.js';
import { watchPairing } from '../../device-client/src/push.js';
import { nodePush } from '../../device-client/src/node/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { manualTimers } from './manual-timers.js';
import { trackOpenResources, type OpenResources } from './open-resources.js';

let server: TestServer;
let clientId: string;
let open: OpenResources;
let push: PushSubscribe;
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  open = trackOpenResources();
  server = await startTestServer();
  ({ clientId } = await server.createClient({ name: 'Hall TV' }));
  push = (await nodePush())!;
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  open.stop();
  await server.stop();
});

/** An `onStatus` for wait(), and a promise of the push channel's first status (the server has taken the subscription). */
function pushSubscription() {
  let onStatus!: (status: WaitStatus) => void;
  const subscribed = new Promise<void>((resolve) => {
    onStatus = (status) => {
      if (status.type === 'push' && status.status === 'pending') resolve();
    };
  });
  return { onStatus, subscribed };
}

/** Nothing of the client is open to `ports` (the Kalm server's by default), and no timer of it is pending. */
function expectNothingOpen(...ports: number[]) {
  for (const port of [server.port, ...ports]) expect(open.socketsTo(port), `sockets to ${port}`).toBe(0);
  expect(open.libraryTimers()).toEqual([]);
}

/** A push server on a port of its own that accepts and subscribes sockets, never sends, and answers close frames (ws does). */
async function silentPushServer(): Promise<{ port: number; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
  const { port } = wss.address() as { port: number };
  return { port, url: `ws://127.0.0.1:${port}/push` };
}

/**
 * A push server that completes the RFC 6455 opening handshake and then reads nothing: it never
 * answers the close frame (a hung server, or one behind a NAT that dropped the flow).
 */
async function deafPushServer(): Promise<{ port: number; url: string }> {
  const sockets = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('data', (request) => {
      const key = /sec-websocket-key: *(\S+)/i.exec(request.toString('latin1'))![1];
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => tcp.close(() => resolve()));
  });
  const { port } = tcp.address() as { port: number };
  return { port, url: `ws://127.0.0.1:${port}/push` };
}

/** The real channel, sent to another push URL than the one the server names. */
const pushTo = (url: string, via = push): PushSubscribe => (_serverUrl, credential, onStatus, onEnd) => via(url, credential, onStatus, onEnd);

const approve = async (userCode: string) => server.core.deviceFlow.approve(userCode, (await server.createUser()).id, ['valuate:read']);

/**
 * wait() with its push channel on `pushServer` (which never pushes), approved and then redeemed
 * by the next poll, so the push socket is still open when the tokens come. Resolves once the
 * poll is sent, with wait()'s promise.
 */
async function redeemedByPollWithPushOn(pushServer: { port: number; url: string }, timers = manualTimers(server.clock), via = push) {
  const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, push: pushTo(pushServer.url, via) });
  const tokens = auth.wait();
  const sleep = await timers.next();
  await approve(auth.userCode);
  expect(open.socketsTo(pushServer.port)).toBe(1);
  sleep.fire();
  return { tokens, timers };
}

describe('nothing of the device client is left open', () => {
  it('after wait() resolves on a push approval, with the system timers: the push socket and the fetch connections are closed', async () => {
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers: systemTimers, push });
    const channel = pushSubscription();
    const tokens = auth.wait({ onStatus: channel.onStatus });
    await channel.subscribed;
    // The check sees what is open: the push socket and the 5 s sleep.
    expect(open.socketsTo(server.port)).toBe(1);
    expect(open.libraryTimers()).toHaveLength(1);
    await approve(auth.userCode);
    expect((await tokens).scope).toBe('valuate:read');
    expectNothingOpen();
  });

  it('after wait() resolves on a poll while the push socket is still open: the closing handshake is done first', async () => {
    const silent = await silentPushServer();
    const { tokens, timers } = await redeemedByPollWithPushOn(silent);
    await tokens;
    expectNothingOpen(silent.port);
    expect(timers.live()).toEqual([]);
  });

  it('after wait() resolves with a push server that never answers the close frame: the socket is cut after a second, not 30 s', async () => {
    const deaf = await deafPushServer();
    // The close grace runs on the test's timers too: ws's own 30 s close timeout would hold the process.
    const timers = manualTimers(server.clock);
    const { tokens } = await redeemedByPollWithPushOn(deaf, timers, (await nodePush(timers))!);
    const grace = await timers.next();
    expect(grace.ms).toBe(1_000);
    expect(open.socketsTo(deaf.port)).toBe(1);
    grace.fire();
    await tokens;
    expectNothingOpen(deaf.port);
  });

  it('after wait() rejects: the person denied (push), or the codes expired (device clock)', async () => {
    const denied = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers: systemTimers, push });
    const deniedPush = pushSubscription();
    const refusal = denied.wait({ onStatus: deniedPush.onStatus }).catch((e: unknown) => e);
    await deniedPush.subscribed;
    await server.core.deviceFlow.deny(denied.userCode);
    expect(await refusal).toBeInstanceOf(AccessDeniedError);
    expectNothingOpen();

    const timers = manualTimers(server.clock);
    const expiring = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, push });
    const expiringPush = pushSubscription();
    const expired = expiring.wait({ onStatus: expiringPush.onStatus }).catch((e: unknown) => e);
    await expiringPush.subscribed;
    (await timers.next()).fire(expiring.expiresAt - server.clock.now());
    expect(await expired).toBeInstanceOf(ExpiredTokenError);
    expectNothingOpen();
  });

  it('after wait() is aborted while it sleeps (system timers: the sleep is a real timer) or while a poll is in flight', async () => {
    const controller = new AbortController();
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, timers: systemTimers, push });
    const abortedPush = pushSubscription();
    const aborted = auth.wait({ signal: controller.signal, onStatus: abortedPush.onStatus }).catch((e: unknown) => e);
    await abortedPush.subscribed;
    controller.abort('stop');
    expect(await aborted).toBeInstanceOf(AbortedError);
    expectNothingOpen();

    // A token endpoint that takes the request and never answers.
    const hung: HttpServer = createHttpServer((req) => {
      req.resume();
      req.once('end', () => onRequest());
    });
    let onRequest = () => {};
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      hung.closeAllConnections();
      return new Promise<void>((resolve) => hung.close(() => resolve()));
    });
    const hungPort = (hung.address() as { port: number }).port;
    const timers = manualTimers(server.clock);
    const inFlight = await startDeviceAuthorization({
      endpoints: { deviceAuthorizationEndpoint: `${server.url}/device_authorization`, tokenEndpoint: `http://127.0.0.1:${hungPort}/token` },
      clientId,
      timers,
      push,
    });
    const stopper = new AbortController();
    const polling = inFlight.wait({ signal: stopper.signal }).catch((e: unknown) => e);
    const requested = new Promise<void>((resolve) => (onRequest = resolve));
    (await timers.next()).fire();
    await requested;
    expect(open.socketsTo(hungPort)).toBe(1);
    stopper.abort('stop');
    expect(await polling).toBeInstanceOf(AbortedError);
    expectNothingOpen(hungPort);
  });

  it('after startDeviceAuthorization() is refused, after a refresh, and once watchPairing is stopped', async () => {
    const refused = await startDeviceAuthorization({ issuer: server.url, clientId: 'nobody' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OAuthResponseError);
    expectNothingOpen();

    const store = new MemoryTokenStore();
    const timers = manualTimers(server.clock);
    const auth = await startDeviceAuthorization({ issuer: server.url, clientId, scope: 'valuate:read', timers, store, push: false });
    const tokens = auth.wait();
    await approve(auth.userCode);
    (await timers.next()).fire();
    const { accessToken } = await tokens;
    expect(await getAccessToken(store, { force: true, timers })).not.toBe(accessToken);
    expectNothingOpen();

    const watched: string[] = [];
    const subscribedOnce = new Promise<void>((resolve) => {
      const stop = watchPairing(store, {
        push,
        timers,
        onRevoked: () => watched.push('revoked'),
        onStatus: (s) => {
          watched.push(s);
          if (s === 'paired') resolve(stop());
        },
      });
    });
    await subscribedOnce;
    expect(watched).toEqual(['paired']);
    expectNothingOpen();
    expect(timers.live()).toEqual([]);
  });
});
