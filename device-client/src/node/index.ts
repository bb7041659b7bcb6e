/**
 * `@kalm/device-client/node`: what only Node has: a file token store and the push
 * channel over `ws` (Node 20 has no global WebSocket).
 *
 * @packageDocumentation
 */
import { webSocketPush, type PushSubscribe, type WebSocketConstructor } from '../push.js';
import type { Timers } from '../timers.js';

export { defaultPairingFile, FileTokenStore } from './file-store.js';

/**
 * The push channel for Node: the global `WebSocket` (Node 22+), else the optional
 * peer dependency `ws`; undefined when neither is there, and `wait()` then polls only.
 * `timers` runs the socket's close grace (see `webSocketPush`).
 *
 * @example
 * ```ts
 * const auth = await startDeviceAuthorization({ issuer, clientId, push: await nodePush() })
 * ```
 */
export async function nodePush(timers?: Pick<Timers, 'setTimeout' | 'clearTimeout'>): Promise<PushSubscribe | undefined> {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global) return webSocketPush(global, timers);
  try {
    const ws = (await import('ws')) as unknown as { WebSocket: WebSocketConstructor };
    return webSocketPush(ws.WebSocket, timers);
  } catch {
    return undefined;
  }
}
