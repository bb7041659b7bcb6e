/**
 * `@kalm/device-client/dpop`: DPoP (RFC 9449), tokens bound to a key the device holds, so a
 * refresh token copied off the device is useless without it. Its own entry point: the core
 * stays 2 KB and bundles none of this (proofs are signed with jose's `SignJWT`).
 *
 * It plugs into the core through its existing seams, nothing DPoP-specific in the core:
 * {@link Dpop.fetch} is the `fetch` the core sends token requests with (a proof on each, the
 * server's nonce kept and retried once), {@link Dpop.push} wraps a push channel (a proof with
 * the paired subscription), and {@link Dpop.fetchWithToken} calls a resource server.
 *
 * ```ts
 * import { startDeviceAuthorization } from '@kalm/device-client'
 * import { createDpop } from '@kalm/device-client/dpop'
 * const dpop = await createDpop(store)
 * const auth = await startDeviceAuthorization({ issuer, clientId, store, fetch: dpop.fetch })
 * await auth.wait()
 * const res = await dpop.fetchWithToken('https://api.example.com/v1/me')
 * ```
 *
 * @packageDocumentation
 */
import { base64url, calculateJwkThumbprint, SignJWT, type JWK } from 'jose';
import { generateDpopKey, type DpopKeyPair, type DpopKeyStore } from './dpop-key.js';
import type { HttpOptions } from './http.js';
import type { PushSubscribe } from './push-channel.js';
import { systemTimers, type Timers } from './timers.js';
import { getAccessToken, type AccessTokenOptions, type TokenStore } from './tokens.js';

export type { DpopKeyPair, DpopKeyStore } from './dpop-key.js';

/**
 * Options of {@link createDpop}.
 *
 * @example
 * ```ts
 * const dpop = await createDpop(store, { fetch: clientSecretBasic(id, secret), timers: { now: () => clock.now() } })
 * ```
 */
export interface DpopOptions extends HttpOptions {
  /** Clock for the proofs' `iat` and for when the access token is stale; default the system clock. */
  timers?: Pick<Timers, 'now'>;
}

/** A device's DPoP key and what it signs, from {@link createDpop}. */
export interface Dpop {
  /** RFC 7638 SHA-256 thumbprint of the public key: the `cnf.jkt` of the tokens bound to it (RFC 9449 §6). */
  readonly jkt: string;
  /** The public key as a JWK (`kty`, `crv`, `x`, `y`), as sent in every proof. */
  readonly publicJwk: JWK;
  /**
   * The `fetch` to give the core (`startDeviceAuthorization`, `getAccessToken`, `watchPairing`):
   * every token request (a POST with `grant_type`: device-code polls, their redemption,
   * refreshes) gets a `DPoP` proof; every answer's `DPoP-Nonce` is kept, and a
   * `use_dpop_nonce` refusal is retried once with the new nonce (RFC 9449 §8). Other
   * requests pass through unchanged.
   *
   * @example
   * ```ts
   * const auth = await startDeviceAuthorization({ issuer, clientId, store, fetch: dpop.fetch })
   * ```
   */
  readonly fetch: typeof fetch;
  /**
   * A proof JWT (RFC 9449 §4.2) for one request: `htm` the method, `htu` the URL without
   * query and fragment, a fresh `jti`, `iat`, the server's latest nonce for that origin, and
   * with `accessToken` its hash `ath` (§7.1). For transports of your own.
   *
   * @example
   * ```ts
   * const proof = await dpop.proof('GET', 'https://api.example.com/v1/me', accessToken)
   * ```
   */
  proof(method: string, url: string | URL, accessToken?: string): Promise<string>;
  /**
   * {@link getAccessToken} on the store with proofs on the refresh. Use this (or pass
   * `fetch: dpop.fetch`), never a plain `getAccessToken(store)`: a bound refresh token
   * refreshed without a proof is refused with `invalid_grant`, which ends the pairing.
   *
   * @example
   * ```ts
   * const token = await dpop.getAccessToken()
   * ```
   */
  getAccessToken(options?: AccessTokenOptions): Promise<string>;
  /**
   * `fetch` for a resource server: a fresh access token (refreshed first when stale, as
   * {@link getAccessToken} does) sent as `Authorization: DPoP <token>` with a proof carrying
   * its `ath` (RFC 9449 §7). A `401` with `WWW-Authenticate: DPoP error="use_dpop_nonce"`
   * and a `DPoP-Nonce` is retried once with that nonce (§9), so the body must be one fetch
   * can send twice (not a stream). A pairing whose `tokenType` is `Bearer` (a server without
   * DPoP) is sent as `Bearer`, without a proof.
   *
   * @example
   * ```ts
   * const res = await dpop.fetchWithToken('https://api.example.com/v1/valuations', { method: 'POST', body: JSON.stringify(input) })
   * ```
   */
  fetchWithToken(url: string | URL, init?: RequestInit): Promise<Response>;
  /**
   * A push channel whose paired subscriptions (the ones with an access token, as
   * `watchPairing` makes) carry a proof in their `dpop` member: `htm` `GET`, `htu` the push
   * URL, `ath`. Subscriptions by device code pass through. Undefined stays undefined.
   *
   * @example
   * ```ts
   * watchPairing(store, { push: dpop.push(runtimePush()), fetch: dpop.fetch, onRevoked })
   * ```
   */
  push(push: PushSubscribe | undefined): PushSubscribe | undefined;
}

// Stores that keep no key (MemoryTokenStore, an app's own): one key per store for the life
// of the page or process, shared by every handle on that store.
const memoryKeys = new WeakMap<TokenStore, Promise<DpopKeyPair>>();

// fetch normalises these methods to upper case (Fetch §2.2.1), so the proof's htm must too.
const htmOf = (method: string) => (/^(delete|get|head|options|post|put)$/i.test(method) ? method.toUpperCase() : method);

// A page may name a URL relative to itself; a proof's htu is absolute (RFC 9449 §4.2).
const absolute = (url: string | URL) => new URL(url, (globalThis as { location?: { href: string } }).location?.href);

const plainHeaders = (headers: HeadersInit | undefined): Record<string, string> => Object.fromEntries(new Headers(headers));

/**
 * The device's DPoP handle: loads the key from `store` (a {@link DpopKeyStore}: the
 * browser's `IndexedDbTokenStore`, Node's `FileTokenStore`), creating it on first use; a
 * store that keeps no key gets one in memory. Give {@link Dpop.fetch} to the core.
 *
 * @example
 * ```ts
 * import { createDpop } from '@kalm/device-client/dpop'
 * import { IndexedDbTokenStore } from '@kalm/device-client/indexeddb'
 * const store = new IndexedDbTokenStore()
 * const dpop = await createDpop(store)
 * const auth = await startDeviceAuthorization({ issuer, clientId, store, fetch: dpop.fetch })
 * ```
 */
export async function createDpop(store: TokenStore & Partial<DpopKeyStore>, options: DpopOptions = {}): Promise<Dpop> {
  const base = options.fetch ?? ((input, init) => fetch(input, init));
  const timers = options.timers ?? systemTimers;
  let key = store.dpopKey ? store.dpopKey() : memoryKeys.get(store);
  if (!key) memoryKeys.set(store, (key = generateDpopKey()));
  const { privateKey, publicKey } = await key;
  // RFC 9449 §4.2: the public key only; exportKey would add key_ops and ext.
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  const publicJwk = { kty, crv, x, y } as JWK;
  // The latest DPoP-Nonce of each server (RFC 9449 §8, §9), by origin.
  const nonces = new Map<string, string>();

  // Keep the answer's nonce; true when it brought one.
  const remember = (url: string | URL, res: Response) => {
    const nonce = res.headers.get('dpop-nonce');
    if (nonce) nonces.set(absolute(url).origin, nonce);
    return !!nonce;
  };

  async function proof(method: string, url: string | URL, accessToken?: string): Promise<string> {
    const htu = absolute(url);
    const nonce = nonces.get(htu.origin);
    // RFC 9449 §4.2: htu without query and fragment.
    htu.search = htu.hash = '';
    const claims: Record<string, string | number> = { jti: crypto.randomUUID(), htm: htmOf(method), htu: htu.href, iat: Math.floor(timers.now() / 1000) };
    // RFC 9449 §7.1: ath is the base64url SHA-256 of the access token's ASCII.
    if (accessToken) claims.ath = base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))));
    if (nonce) claims.nonce = nonce;
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: publicJwk }).sign(privateKey);
  }

  const tokenFetch: typeof fetch = async (input, init = {}) => {
    const { body } = init;
    if (!(body instanceof URLSearchParams && body.has('grant_type'))) return base(input, init);
    const url = input instanceof Request ? input.url : input;
    for (let retried = false; ; retried = true) {
      const res = await base(input, { ...init, headers: { ...plainHeaders(init.headers), dpop: await proof(init.method ?? 'POST', url) } });
      // RFC 9449 §8: a 400 use_dpop_nonce names the nonce to use; retry once with it.
      if (!remember(url, res) || retried || res.status !== 400) return res;
      const { error } = (await res
        .clone()
        .json()
        .catch(() => ({}))) as { error?: unknown };
      if (error !== 'use_dpop_nonce') return res;
    }
  };

  const accessToken = (more: AccessTokenOptions = {}) => getAccessToken(store, { timers, ...more, fetch: tokenFetch });

  async function fetchWithToken(relative: string | URL, init: RequestInit = {}): Promise<Response> {
    const url = absolute(relative);
    const token = await accessToken();
    const dpopBound = (await store.load())?.tokenType.toLowerCase() === 'dpop';
    const send = async () =>
      base(url, {
        ...init,
        headers: {
          ...plainHeaders(init.headers),
          authorization: `${dpopBound ? 'DPoP' : 'Bearer'} ${token}`,
          ...(dpopBound && { dpop: await proof(init.method ?? 'GET', url, token) }),
        },
      });
    const res = await send();
    // RFC 9449 §9: the resource server's nonce challenge; retry once with its nonce.
    const asked = res.status === 401 && /\bDPoP\b.*\berror="use_dpop_nonce"/is.test(res.headers.get('www-authenticate') ?? '');
    if (!(remember(url, res) && asked && dpopBound)) return res;
    const retry = await send();
    remember(url, retry);
    return retry;
  }

  const push = (channel: PushSubscribe | undefined): PushSubscribe | undefined =>
    channel &&
    ((url, credential, onStatus, onEnd) => {
      if (!('access_token' in credential)) return channel(url, credential, onStatus, onEnd);
      let stopped = false;
      let stop: (() => void | Promise<void>) | undefined;
      // Signing is asynchronous and a subscription is not: subscribe once the proof is made.
      proof('GET', url, credential.access_token).then(
        (dpop) => {
          if (!stopped) stop = channel(url, { ...credential, dpop }, onStatus, onEnd);
        },
        () => onEnd(),
      );
      // The channel's close promise, so that watchPairing's stop still waits for the socket.
      return () => {
        stopped = true;
        return stop?.();
      };
    });

  return { jkt: await calculateJwkThumbprint(publicJwk), publicJwk, fetch: tokenFetch, proof, getAccessToken: accessToken, fetchWithToken, push };
}
