import { PairingLostError } from './errors.js';
import type { PushStatus, PushSubscribe } from './push-channel.js';
import { systemTimers, type Timers } from './timers.js';
import { getAccessToken, type AccessTokenOptions, type TokenStore } from './tokens.js';

/** Options of {@link watchPairing}. */
export interface WatchOptions extends AccessTokenOptions {
  /**
   * Called once when the pairing ends: revoked by its owner ("My devices"), its
   * token family revoked for refresh-token reuse, or its refresh token refused.
   * The store is cleared before the call. Start a new pairing from here.
   */
  onRevoked: () => void;
  /**
   * The push channel: `runtimePush()`, `webSocketPush(WebSocket)`, `nodePush()` or your
   * own. Undefined (no WebSocket in this runtime): nothing to watch with, nothing happens.
   */
  push: PushSubscribe | undefined;
  /** Seconds before subscribing again after the channel drops. Default 30. */
  reconnectAfter?: number;
  /** Timers for the reconnection delay. */
  timers?: Timers;
  /** Channel statuses for a UI: `paired` once subscribed, `closed` when it drops. */
  onStatus?: (status: PushStatus | 'closed') => void;
}

/**
 * Watch a stored pairing for revocation over the push channel, subscribing with a
 * fresh access token (in the first message, never the URL) and again after a drop.
 * Returns a function that stops watching; its promise settles once the socket is closed
 * and no request of the watch is in flight, so nothing of it is left open. Does nothing
 * when the server has no push channel or the runtime no WebSocket.
 *
 * @example
 * ```ts
 * import { runtimePush, watchPairing } from '@kalm/device-client/push'
 * const stop = watchPairing(store, { push: runtimePush(), onRevoked: () => showPairingScreen() })
 * ```
 */
export function watchPairing(store: TokenStore, options: WatchOptions): () => Promise<void> {
  const timers = options.timers ?? systemTimers;
  const { push } = options;
  let stopped = false;
  let unsubscribe: (() => void | Promise<void>) | undefined;
  let handle: unknown;
  // The latest subscription attempt (a refresh may be in flight), for stop() to wait on.
  let attempt: Promise<void> = Promise.resolve();

  const revoked = async () => {
    await stop();
    await store.clear();
    options.onRevoked();
  };
  const retry = () => {
    if (!stopped) handle = timers.setTimeout(() => connect(), (options.reconnectAfter ?? 30) * 1000);
  };
  const connect = (force = false) => {
    if (!stopped) attempt = subscribe(force);
  };
  async function subscribe(force: boolean) {
    try {
      const pushUri = (await store.load())?.pushUri;
      if (!push || !pushUri) return;
      const token = await getAccessToken(store, { ...options, force });
      if (stopped) return;
      let ended = false;
      unsubscribe = push(
        pushUri,
        { access_token: token },
        (status) => {
          options.onStatus?.(status);
          if (status === 'revoked') {
            ended = true;
            void revoked();
          }
        },
        (code) => {
          if (ended) return;
          options.onStatus?.('closed');
          // 4404: the server no longer accepts this access token. Refreshing at once tells
          // an expired token (refresh works, subscribe again) from a revoked pairing
          // (invalid_grant). A second 4404 right after a refresh waits like any drop.
          if (code === 4404 && !force) connect(true);
          else retry();
        },
      );
    } catch (error) {
      if (error instanceof PairingLostError) void revoked();
      else retry();
    }
  }
  async function stop() {
    stopped = true;
    timers.clearTimeout(handle);
    await attempt;
    await unsubscribe?.();
  }
  connect();
  return stop;
}
