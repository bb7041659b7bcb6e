/**
 * `@kalm/device-client/push`: the push channel (a Kalm extension to RFC 8628), a
 * WebSocket that tells a waiting device the moment its code is decided, and a paired
 * device when it is revoked ({@link watchPairing}). Push only shortens the wait; the
 * token endpoint stays the source of truth, so a push status never ends a wait by
 * itself, it only triggers the next poll at once.
 *
 * A separate entry point so that the core stays small: `wait()` takes the channel as
 * its `push` option, and an app that does not push bundles none of this.
 *
 * ```ts
 * import { startDeviceAuthorization } from '@kalm/device-client'
 * import { runtimePush, watchPairing } from '@kalm/device-client/push'
 * const auth = await startDeviceAuthorization({ issuer, clientId, store, push: runtimePush() })
 * ```
 *
 * Transport seam: another channel plugs in by producing the same status strings
 * through {@link PushSubscribe}.
 *
 * @packageDocumentation
 */
import type { PushStatus, PushSubscribe } from './push-channel.js';
import { systemTimers, type Timers } from './timers.js';

export type { PushStatus, PushSubscribe } from './push-channel.js';

/** The part of the WHATWG `WebSocket` the client uses; `ws` in Node implements it too. */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number): void;
  /** Cut the connection without a closing handshake: `ws` has it, a browser's WebSocket does not. */
  terminate?(): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A `WebSocket` constructor: the browser's global, or `ws`'s `WebSocket` in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * How long the returned close function waits for the server to answer the close frame
 * before it cuts the socket (ws) or stops waiting (a browser, which keeps its own timeout).
 * A server answers within a round trip; ws would otherwise hold the process for 30 s.
 */
const CLOSE_GRACE_MS = 1000;

/**
 * {@link PushSubscribe} over WebSocket. The credential goes in the first message,
 * never in the URL (URLs end up in logs). The close function it returns resolves once the
 * socket is closed, or after a second's grace with the socket cut, so nothing of it
 * is left open once `wait()` or `watchPairing`'s stop has settled. `timers` runs that grace
 * (tests pass their own, so nothing waits a real second).
 */
export function webSocketPush(WebSocket: WebSocketConstructor, timers: Pick<Timers, 'setTimeout' | 'clearTimeout'> = systemTimers): PushSubscribe {
  return (url, credential, onStatus, onEnd) => {
    let socket: WebSocketLike;
    try {
      socket = new WebSocket(url);
    } catch {
      onEnd();
      return () => {};
    }
    let closed!: () => void;
    const done = new Promise<void>((resolve) => (closed = resolve));
    socket.onopen = () => socket.send(JSON.stringify({ type: 'subscribe', ...credential }));
    socket.onmessage = ({ data }) => {
      try {
        const status = (JSON.parse(String(data)) as { status?: unknown }).status;
        if (typeof status === 'string') onStatus(status as PushStatus);
      } catch {
        // Not JSON: ignore, polling carries on.
      }
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      closed();
      onEnd((event as { code?: number }).code);
    };
    return () => {
      // Closed by us: no more statuses, no onEnd.
      socket.onmessage = null;
      socket.onclose = closed;
      // RFC 6455 §7.1.1: after the close frames, the server closes the TCP connection. A
      // server that never answers (hung, or gone behind a NAT that dropped the flow) gets the
      // grace, then the socket is cut; its close event follows, once ws has let go of it all.
      // A browser's socket cannot be cut: stop waiting for it.
      socket.close(1000);
      const grace = timers.setTimeout(() => (socket.terminate ? socket.terminate() : closed()), CLOSE_GRACE_MS);
      return done.then(() => timers.clearTimeout(grace));
    };
  };
}

/**
 * The runtime's own `WebSocket` (browsers, TV runtimes, Node 22+) as a
 * {@link PushSubscribe}, or undefined when it has none (Node 20: use `nodePush()` from
 * `@kalm/device-client/node`, which falls back to `ws`).
 *
 * @example
 * ```ts
 * const pairing = await auth.wait({ push: runtimePush() })
 * ```
 */
export function runtimePush(): PushSubscribe | undefined {
  const WebSocket = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return WebSocket && webSocketPush(WebSocket);
}

export { watchPairing, type WatchOptions } from './watch.js';
