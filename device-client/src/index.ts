/**
 * `@kalm/device-client`: the RFC 8628 device authorization flow for TVs and
 * devices. Needs only `fetch`, `AbortSignal` and `URLSearchParams`, so it runs in
 * browsers, TV runtimes and Node. The core stays about 2 KB gzipped; what not every
 * embedder needs has its own entry point:
 * push over WebSocket and revocation watching `@kalm/device-client/push`, client secrets
 * `@kalm/device-client/client-secret`, QR codes
 * `@kalm/device-client/qr`, reading an access token's claims `@kalm/device-client/claims`,
 * file storage and `ws` `@kalm/device-client/node`, the MQTT transport `@kalm/device-client/mqtt`,
 * DPoP (RFC 9449) `@kalm/device-client/dpop` (given to the core as its `fetch`), the browser's
 * IndexedDB store `@kalm/device-client/indexeddb`.
 *
 * Transport seam (for `./mqtt` and any other transport): return a
 * {@link DeviceAuthorization} (`userCode`, `verificationUri`, `verificationUriComplete`,
 * `expiresAt`, `interval`, `wait()` resolving with a {@link Pairing} saved to the given
 * {@link TokenStore} first); reject with the same error classes; pass
 * `AccessTokenOptions.refresh` so {@link getAccessToken} keeps its one-refresh-at-a-time,
 * save-before-use and `invalid_grant` → {@link PairingLostError} rules; a push channel is a
 * {@link PushSubscribe}, given to `wait()` as its `push` option. `toPairing` in
 * `./tokens.js` turns a token response into a Pairing.
 *
 * @packageDocumentation
 */
export { startDeviceAuthorization, type DeviceAuthorization, type StartOptions, type WaitOptions, type WaitStatus } from './device-authorization.js';
export { discover, type Endpoints, type ServerOptions } from './discovery.js';
export { AbortedError, AccessDeniedError, ExpiredTokenError, OAuthResponseError, PairingLostError } from './errors.js';
export type { ClientCredentials, HttpOptions } from './http.js';
export type { PushStatus, PushSubscribe } from './push-channel.js';
export { systemTimers, type Timers } from './timers.js';
export { getAccessToken, MemoryTokenStore, type AccessTokenOptions, type Pairing, type TokenStore } from './tokens.js';
