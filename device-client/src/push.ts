/**
 * The push channel (a Kalm extension to RFC 8628): a WebSocket that tells a waiting
 * device the moment its code is decided, and a paired device when it is revoked.
 * Push only shortens the wait; the token endpoint stays the source of truth, so a
 * push status never ends a wait by itself, it only triggers the next poll at once.
 *
 * Transport seam: another channel (the MQTT transport in `./mqtt`) plugs in by
 * producing the same status strings through {@link PushSubscribe}.
 */

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
 * Push statuses: `pending`/`paired` after subscribing; `approved`, `denied`,
 * `expired`, `revoked` as decisions happen.
 */
export type PushStatus = 'pending' | 'paired' | 'approved' | 'denied' | 'expired' | 'revoked';

/**
 * Open a subscription and report statuses until the returned function closes it.
 * `onEnd` runs once when the channel ends on its own (refused, dropped, or closed
 * by the server after a final status), with the close code when there is one
 * (4404: the server does not know the credential).
 */
export type PushSubscribe = (
  url: string,
  credential: { device_code: string } | { access_token: string },
  onStatus: (status: PushStatus) => void,
  onEnd: (code?: number) => void,
) => () => void;

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

/** The runtime's WebSocket as a {@link PushSubscribe}, if it has one (browsers, Node 22+). @internal */
export function defaultPush(): PushSubscribe | undefined {
  const WebSocket = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return WebSocket && webSocketPush(WebSocket);
}
