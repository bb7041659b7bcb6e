import { resolveEndpoints, type ServerOptions } from './discovery.js';
import { AbortedError, AccessDeniedError, ExpiredTokenError, OAuthResponseError } from './errors.js';
import { errorOf, num, postForm, str, type ClientCredentials } from './http.js';
import { defaultPush, type PushStatus, type PushSubscribe } from './push.js';
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
  /** Push channel; default the runtime's `WebSocket` if any. `false` polls only. */
  push?: PushSubscribe | false;
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
  /** Overrides the push channel given to {@link startDeviceAuthorization}. */
  push?: PushSubscribe | false;
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
   * {@link OAuthResponseError} for any other refusal.
   */
  wait(options?: WaitOptions): Promise<Pairing>;
}

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
// Network failures and 5xx: back off by doubling, up to this, never below the interval.
const MAX_BACKOFF_MS = 60_000;

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
  const timers = options.timers ?? systemTimers;
  const scope = Array.isArray(options.scope) ? options.scope.join(' ') : options.scope;
  const res = await postForm(endpoints.deviceAuthorizationEndpoint, { scope }, options, timers.now(), options.signal);
  if (res.status !== 200) throw errorOf(res);
  const { body } = res;
  const expiresIn = num(body.expires_in);
  if (!expiresIn) throw new OAuthResponseError('invalid_response', 'no expires_in', 0);
  const auth: DeviceAuthorization = {
    deviceCode: str(body, 'device_code'),
    userCode: str(body, 'user_code'),
    // Some servers spell it verification_url (draft wording); the RFC name wins.
    verificationUri: str(body, body.verification_uri ? 'verification_uri' : 'verification_url'),
    verificationUriComplete: body.verification_uri_complete as string | undefined,
    expiresIn,
    expiresAt: timers.now() + expiresIn * 1000,
    // RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
    interval: num(body.interval) || 5,
    pushUri: (body.push_uri as string | undefined) ?? endpoints.pushEndpoint,
    wait: (waitOptions = {}) =>
      waitForTokens(auth, { ...options, ...endpoints, ...waitOptions, timers: waitOptions.timers ?? timers, scope: scope ?? '' }),
  };
  return auth;
}

type WaitContext = StartOptions & WaitOptions & { tokenEndpoint: string; timers: Timers; scope: string };

async function waitForTokens(auth: DeviceAuthorization, ctx: WaitContext): Promise<Pairing> {
  const { timers, signal, onStatus = () => {} } = ctx;
  let interval = auth.interval;
  let delay = interval * 1000;
  let failures = 0;
  // Set by a push status: the next sleep ends at once. `wake` ends the current one.
  let pushed = false;
  let wake: (() => void) | undefined;
  const push = ctx.push === undefined ? defaultPush() : ctx.push;
  const unsubscribe =
    push && auth.pushUri
      ? push(
          auth.pushUri,
          { device_code: auth.deviceCode },
          (status) => {
            onStatus({ type: 'push', status });
            if (status === 'approved' || status === 'denied' || status === 'expired') {
              pushed = true;
              wake?.();
            }
          },
          () => onStatus({ type: 'push', status: 'closed' }),
        )
      : undefined;

  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  let handle: unknown;

  try {
    for (;;) {
      // Never sleep past the expiry: reaching it ends the wait without another request.
      if (!pushed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (!signal?.aborted) handle = timers.setTimeout(resolve, Math.max(0, Math.min(delay, auth.expiresAt - timers.now())));
          else resolve();
        });
      }
      timers.clearTimeout(handle);
      if (signal?.aborted) throw new AbortedError(signal.reason);
      pushed = false;
      const now = timers.now();
      if (now >= auth.expiresAt) throw new ExpiredTokenError('expired_token', 'codes expired', 0);
      let res;
      try {
        res = await postForm(ctx.tokenEndpoint, { grant_type: DEVICE_CODE_GRANT, device_code: auth.deviceCode }, ctx, now, signal);
      } catch (error) {
        if (error instanceof AbortedError) throw error;
        res = { status: 0, body: { error }, retryAfter: undefined };
      }
      const error = res.body.error;
      if (res.status === 200) {
        const pairing = toPairing(res, now, { clientId: ctx.clientId, tokenEndpoint: ctx.tokenEndpoint, scope: ctx.scope, pushUri: auth.pushUri });
        await ctx.store?.save(pairing);
        return pairing;
      }
      if (error === 'authorization_pending') {
        failures = 0;
        delay = interval * 1000;
        onStatus({ type: 'pending' });
      } else if (error === 'slow_down') {
        // RFC 8628 §3.5: add 5 s for this and all later polls, unless the server names a larger interval.
        const asked = num(res.body.interval);
        interval = asked && asked > interval ? asked : interval + 5;
        delay = interval * 1000;
        onStatus({ type: 'slow_down', interval });
      } else if (error === 'access_denied') {
        throw errorOf(res, AccessDeniedError);
      } else if (error === 'expired_token') {
        throw errorOf(res, ExpiredTokenError);
      } else if (res.status === 0 || res.status === 429 || res.status >= 500) {
        // Unreachable or overloaded: retry until expiry, backing off, never tighter than the interval.
        delay = Math.max(interval * 1000, Math.min(interval * 1000 * 2 ** failures++, MAX_BACKOFF_MS));
        onStatus({ type: 'retry', error: res.status ? errorOf(res) : error, delay });
      } else {
        throw errorOf(res);
      }
      // RFC 9110 §10.2.3: the server's Retry-After, when longer.
      if (res.retryAfter !== undefined) delay = Math.max(delay, res.retryAfter * 1000);
    }
  } finally {
    timers.clearTimeout(handle);
    signal?.removeEventListener('abort', onAbort);
    unsubscribe?.();
  }
}
