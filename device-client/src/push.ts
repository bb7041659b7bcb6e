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

export type { PushStatus, PushSubscribe } from './push-channel.js';

/** The part of the WHATWG `WebSocket` the client uses; `ws` in Node implements it too. */
export interface WebSocketLike {
  send(data: string): void;
  close(code?: number): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** A `WebSocket` constructor: the browser's global, or `ws`'s `WebSocket` in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * {@link PushSubscribe} over WebSocket. The credential goes in the first message,
 * never in the URL (URLs end up in logs).
 */
export function webSocketPush(WebSocket: WebSocketConstructor): PushSubscribe {
  return (url, credential, onStatus, onEnd) => {
    let socket: WebSocketLike;
    try {
      socket = new WebSocket(url);
    } catch {
      onEnd();
      return () => {};
    }
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
    socket.onclose = (event) => onEnd((event as { code?: number }).code);
    return () => {
      socket.onclose = null;
      socket.close(1000);
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
