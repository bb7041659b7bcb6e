import WebSocket from 'ws';
import type { TestServer } from '../helpers/server.js';

/** A test's end of a push socket: messages in arrival order and the close, awaited as events. */
export interface PushPeer {
  ws: WebSocket;
  /** The next message not yet taken, parsed. */
  next(): Promise<Record<string, unknown>>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
}

export function pushUrl(server: TestServer, query = ''): string {
  return `${server.url.replace(/^http/, 'ws')}/push${query}`;
}

/** Open a socket to `url` and resolve once the handshake is done. */
export function openPush(url: string, options: WebSocket.ClientOptions = {}): Promise<PushPeer> {
  const ws = new WebSocket(url, options);
  const queue: Array<Record<string, unknown>> = [];
  const waiting: Array<(m: Record<string, unknown>) => void> = [];
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as Record<string, unknown>;
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () =>
      resolve({
        ws,
        closed,
        next: () => {
          const message = queue.shift();
          return message ? Promise.resolve(message) : new Promise((r) => waiting.push(r));
        },
        send: (message) => ws.send(typeof message === 'string' || Buffer.isBuffer(message) ? message : JSON.stringify(message)),
      }),
    );
    ws.once('error', reject);
  });
}

/** Open a socket and subscribe with a device code or an access token. */
export async function subscribe(server: TestServer, credential: { device_code: string } | { access_token: string }): Promise<PushPeer> {
  const peer = await openPush(pushUrl(server));
  peer.send({ type: 'subscribe', ...credential });
  return peer;
}

/** The HTTP status an upgrade request is refused with. */
export function refusedUpgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', () => {});
  });
}
