import { resolveEndpoints, type ServerOptions } from './discovery.js';
import { AbortedError, ExpiredTokenError, OAuthResponseError } from './errors.js';
import { errorOf, member, num, post, send, type ClientCredentials, type FormResponse } from './http.js';
import type { PushStatus, PushSubscribe } from './push-channel.js';
import { systemTimers, type Timers } from './timers.js';
import { toPairing, type Pairing, type TokenStore } from './tokens.js';

/** Options of {@link startDeviceAuthorization}. */
export interface StartOptions extends ServerOptions, ClientCredentials {
  /** Requested scope: space-separated or a list. Omit to get the client's default. */
  scope?: string | string[];
  /** Where `wait()` saves the pairing on success, for {@link getAccessToken}. */
  store?: TokenStore;
  /** Clock and timers for the expiry and the waiting; default the system ones. */
  timers?: Timers;
  /**
   * Push channel used while waiting, when the server advertises one: `runtimePush()` or
   * `webSocketPush(WebSocket)` from `@kalm/device-client/push`, `nodePush()` from
   * `@kalm/device-client/node`, or your own. Omitted or `false`: polling only. Injected
   * rather than built in, so an app that does not push ships no WebSocket code.
   */
  push?: PushSubscribe | false | undefined;
  /** Cancels the device authorization request: it then rejects with {@link AbortedError}. */
  signal?: AbortSignal;
}

/**
 * What `wait()` reports while it waits: a poll answered `authorization_pending` or
 * `slow_down` (with the new interval, seconds), a failure it retries after `delay`
 * ms, or a push status.
 */
export type WaitStatus =
  | { type: 'pending' }
  | { type: 'slow_down'; interval: number }
  | { type: 'retry'; error: unknown; delay: number }
  | { type: 'push'; status: PushStatus | 'closed' };

/** Options of {@link DeviceAuthorization.wait}. */
export interface WaitOptions {
  /** Stops waiting: `wait()` rejects with {@link AbortedError}. */
  signal?: AbortSignal;
  /** Called on each poll answer, retry and push status, for a UI. */
  onStatus?: (status: WaitStatus) => void;
  /** Overrides the timers given to {@link startDeviceAuthorization}. */
  timers?: Timers;
  /** Overrides the push channel given to {@link startDeviceAuthorization}; `false` polls only. */
  push?: PushSubscribe | false | undefined;
}

/**
 * A pending device authorization (RFC 8628 §3.2): what to show the person, and
 * `wait()` for the decision. Transport seam: the MQTT transport returns this same
 * shape, so an app can swap HTTP for MQTT without other changes.
 */
export interface DeviceAuthorization {
  /** The secret device code. Never show or log it. */
  deviceCode: string;
  /** The code the person types, such as `BCDF-GHJK`. */
  userCode: string;
  /** The short URL to type on a phone or computer. */
  verificationUri: string;
  /** The URL with the user code in it, for the QR code; absent when the server sends none. */
  verificationUriComplete?: string | undefined;
  /** Lifetime of the codes in seconds, as the server sent it. */
  expiresIn: number;
  /** When the codes expire, ms since the epoch, by the given clock. */
  expiresAt: number;
  /** Seconds between polls the server asked for (5 when it did not say, RFC 8628 §3.2). */
  interval: number;
  /** The push channel's URL, when the server offers one. */
  pushUri?: string | undefined;
  /**
   * Poll the token endpoint (RFC 8628 §3.4) until the person decides, and resolve with
   * the tokens (saved to the `store` first, if one was given). Rejects with
   * {@link AccessDeniedError}, {@link ExpiredTokenError}, {@link AbortedError}, or an
   * {@link OAuthResponseError} for any other refusal. Settles only once the push channel it
   * opened is closed and its timer cleared: it leaves nothing open (a Node process can exit).
   */
  wait(options?: WaitOptions): Promise<Pairing>;
}

/**
 * Start the RFC 8628 device flow: request codes (§3.1), then show `userCode` and
 * `verificationUriComplete` (as a QR code, `./qr`) and call `wait()`.
 *
 * @example
 * ```ts
 * const auth = await startDeviceAuthorization({ issuer: 'http://localhost:8080', clientId: 'tv-demo', scope: 'valuate:read' })
 * show(auth.userCode, auth.verificationUriComplete)
 * const { accessToken } = await auth.wait({ onStatus: console.log })
 * ```
 */
export async function startDeviceAuthorization(options: StartOptions): Promise<DeviceAuthorization> {
  const endpoints = await resolveEndpoints(options);
  const { tokenEndpoint } = endpoints;
  // A list or a space-separated string; undefined joins to ''.
  const scope = [options.scope].flat().join(' ');
  // RFC 6749 §3.3: no scope parameter at all for the client's default (empty counts as absent).
  const { body } = await post(endpoints.deviceAuthorizationEndpoint, options, options.signal, scope ? { scope } : {});
  const expiresIn = member<number>(body, 'expires_in', 'number');

  // Poll (RFC 8628 §3.4) until a decision, the expiry or an abort.
  async function wait({ signal, onStatus = () => {}, timers = options.timers ?? systemTimers, push = options.push }: WaitOptions = {}): Promise<Pairing> {
    let { interval } = auth;
    let delay = interval * 1000;
    let failures = 0;
    // Set by a push status: the next sleep ends at once. `wake` ends the current one.
    let pushed = false;
    let wake = () => {};
    let handle: unknown;
    // Push only shortens the wait: a decision triggers the next poll at once, and the token
    // endpoint stays the source of truth.
    const unsubscribe =
      push && auth.pushUri
        ? push(
            auth.pushUri,
            { device_code: auth.deviceCode },
            (status) => {
              onStatus({ type: 'push', status });
              // Anything but `pending` is a decision (approved, denied, expired): poll now.
              if (status !== 'pending') {
                pushed = true;
                wake();
              }
            },
            () => onStatus({ type: 'push', status: 'closed' }),
          )
        : undefined;
    const onAbort = () => wake();
    signal?.addEventListener('abort', onAbort);

    try {
      for (;;) {
        // Never sleep past the expiry: reaching it ends the wait without another request.
        if (!pushed && !signal?.aborted) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            handle = timers.setTimeout(resolve, Math.min(delay, auth.expiresAt - timers.now()));
          });
        }
        // Woken early (push, abort): the timer is still set. Cleared here, so no way out of
        // the loop below leaves one.
        timers.clearTimeout(handle);
        if (signal?.aborted) throw new AbortedError(signal.reason);
        pushed = false;
        const now = timers.now();
        if (now >= auth.expiresAt) throw new ExpiredTokenError('expired_token', 'codes expired', 0);
        const res = await send(tokenEndpoint, options, signal, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: auth.deviceCode }).catch(
          (error: unknown): FormResponse => {
            if (signal?.aborted) throw error;
            return { status: 0, body: { error } };
          },
        );
        const { status, body } = res;
        if (status === 200) {
          const pairing = toPairing(body, now, { clientId: options.clientId, tokenEndpoint, scope, pushUri: auth.pushUri });
          await options.store?.save(pairing);
          return pairing;
        }
        const { error } = body;
        // Anything but the two RFC 8628 §3.5 codes that mean "keep polling" is a failure.
        const retry = error !== 'authorization_pending' && error !== 'slow_down';
        // RFC 6749 §5.2 refusals come as 400 (401 for invalid_client): access_denied,
        // expired_token and any other code end the wait, typed by errorOf. No answer, 429 and
        // 5xx are retried.
        if (retry && status && status !== 429 && status < 500) throw errorOf(res);
        if (error === 'slow_down') {
          // RFC 8628 §3.5: add 5 s for this and all later polls, unless the server names a larger interval.
          const asked = num(body.interval) ?? 0;
          interval = asked > interval ? asked : interval + 5;
        }
        failures = retry ? failures + 1 : 0;
        const after = res.headers?.get('retry-after');
        delay = Math.max(
          interval * 1000,
          // Unreachable or overloaded: retry until expiry, backing off by doubling up to a
          // minute, never tighter than the interval.
          Math.min(interval * 1000 * 2 ** (failures - 1), 60_000),
          // RFC 9110 §10.2.3: the server's Retry-After, delay-seconds or an HTTP-date, when longer.
          (after && (+after * 1000 || Date.parse(after) - now)) || 0,
        );
        onStatus(
          retry
            ? { type: 'retry', error: status ? errorOf(res) : error, delay }
            : error === 'slow_down'
              ? { type: 'slow_down', interval }
              : { type: 'pending' },
        );
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Settle only once the push socket is closed: nothing of the wait outlives it.
      await unsubscribe?.();
    }
  }

  const auth: DeviceAuthorization = {
    deviceCode: member(body, 'device_code'),
    userCode: member(body, 'user_code'),
    // Some servers spell it verification_url (draft wording); the RFC name wins.
    verificationUri: member(body, body.verification_uri ? 'verification_uri' : 'verification_url'),
    verificationUriComplete: body.verification_uri_complete as string | undefined,
    expiresIn,
    expiresAt: (options.timers ?? systemTimers).now() + expiresIn * 1000,
    // RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
    interval: num(body.interval) || 5,
    // Kalm's push channel for this code (a WebSocket URL), when the server has one.
    pushUri: body.push_uri as string | undefined,
    wait,
  };
  return auth;
}
