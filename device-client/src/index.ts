/**
 * `@kalm/device-client`: the RFC 8628 device authorization flow for TVs and
 * devices. Needs only `fetch`, `AbortSignal` and `URLSearchParams` (and `WebSocket`
 * for push, where the runtime has it), so it runs in browsers, TV runtimes and Node.
 * QR codes: `@kalm/device-client/qr`. File storage and `ws`: `@kalm/device-client/node`.
 *
 * Transport seam (for `./mqtt` and any other transport): return a
 * {@link DeviceAuthorization} (`userCode`, `verificationUri`, `verificationUriComplete`,
 * `expiresAt`, `interval`, `wait()` resolving with a {@link Pairing} saved to the given
 * {@link TokenStore} first); reject with the same error classes; pass
 * `AccessTokenOptions.refresh` so {@link getAccessToken} keeps its one-refresh-at-a-time,
 * save-before-use and `invalid_grant` → {@link PairingLostError} rules; a push channel is a
 * {@link PushSubscribe}. `toPairing` in `./tokens.js` turns a token response into a Pairing.
 *
 * @packageDocumentation
 */
export { accessTokenClaims } from './claims.js';
export { startDeviceAuthorization, type DeviceAuthorization, type StartOptions, type WaitOptions, type WaitStatus } from './device-authorization.js';
export { discover, type Endpoints, type ServerOptions } from './discovery.js';
export { AbortedError, AccessDeniedError, ExpiredTokenError, OAuthResponseError, PairingLostError } from './errors.js';
export type { ClientCredentials, HttpOptions } from './http.js';
export { webSocketPush, type PushStatus, type PushSubscribe, type WebSocketConstructor, type WebSocketLike } from './push.js';
export { systemTimers, type Timers } from './timers.js';
export { getAccessToken, MemoryTokenStore, type AccessTokenOptions, type Pairing, type TokenStore } from './tokens.js';
export { watchPairing, type WatchOptions } from './watch.js';
