/**
 * `@kalm/device-client/mqtt`: the device flow over the Kalm server's MQTT bridge, for
 * Node/Linux devices that reach a broker but not the HTTP server. Same shape as the HTTP
 * client: {@link startMqttDeviceAuthorization} returns what to show and `wait()` resolves
 * with a {@link Pairing}. Needs the `mqtt` package (an optional peer dependency, never part
 * of the browser build) and `jose`.
 *
 * Protocol (topics under `kalm/v1/device/{rid}/`): an ephemeral P-256 key and a random rid
 * per flow; `authorize` → `authorize/accepted`; `status` pushed; `token` with an ES256 proof
 * → `token/accepted` as a JWE to the device key; `refresh` as a JWE to the server key.
 *
 * @packageDocumentation
 */
import { CompactEncrypt, SignJWT, compactDecrypt, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { DeviceAuthorization, WaitOptions } from './device-authorization.js';
import { AbortedError, AccessDeniedError, ExpiredTokenError, OAuthResponseError, PairingLostError } from './errors.js';
import { systemTimers, type Timers } from './timers.js';
import type { Pairing, TokenStore } from './tokens.js';

/** The part of an `mqtt` (mqtt.js 5) client this transport uses; a connected `MqttClient` fits. */
export interface MqttClientLike {
  subscribe(topic: string, options: { qos: 0 | 1 | 2 }, callback?: (err?: Error | null) => void): unknown;
  unsubscribe(topic: string, callback?: (err?: Error) => void): unknown;
  publish(topic: string, payload: string, options: { qos: 0 | 1 | 2; retain?: boolean }, callback?: (err?: Error) => void): unknown;
  on(event: 'message', listener: (topic: string, payload: Uint8Array) => void): unknown;
  off(event: 'message', listener: (topic: string, payload: Uint8Array) => void): unknown;
}

/** Options of {@link startMqttDeviceAuthorization}. */
export interface MqttStartOptions {
  /** A connected MQTT client (`mqtt.connect(url)`); the transport subscribes and publishes with it. */
  client: MqttClientLike;
  /** The public client's `client_id` (the bridge serves public clients only). */
  clientId: string;
  /** Requested scope: space-separated or a list. Omit to get the client's default. */
  scope?: string | string[];
  /** Topic prefix of the server's bridge. Default `kalm/v1`. */
  prefix?: string;
  /** Where `wait()` saves the pairing on success. */
  store?: TokenStore;
  /** Clock and timers; default the system ones. */
  timers?: Timers;
  /** Cancels the request. */
  signal?: AbortSignal;
  /** How long to wait for any answer of the bridge, ms. Default 10000. */
  answerTimeoutMs?: number;
  /**
   * The request id to use, from {@link newRequestId}; default a fresh one. Pass it when the
   * broker's ACL binds each device to the rid it connects with (`clientId` = rid).
   */
  rid?: string;
}

/**
 * A pending device authorization over MQTT: the same members as the HTTP one, except that
 * there is no device code (it never leaves the server) and no push URI (status comes on the
 * rid's `status` topic).
 */
export interface MqttDeviceAuthorization
  extends Pick<DeviceAuthorization, 'userCode' | 'verificationUri' | 'verificationUriComplete' | 'expiresIn' | 'expiresAt' | 'interval'> {
  /** The request id of this flow: 128 random bits, base64url. */
  rid: string;
  /**
   * Ask for the token at `interval` and at once when the bridge pushes a decision; resolves
   * with the tokens (saved to `store` first, if given). Rejects with {@link AccessDeniedError},
   * {@link ExpiredTokenError}, {@link AbortedError} or {@link OAuthResponseError}.
   */
  wait(options?: WaitOptions): Promise<Pairing>;
  /** Stop listening on the rid's topics (after `wait()` this happens by itself). */
  close(): void;
}

/** `tokenEndpoint` of a pairing obtained over MQTT: refresh it with {@link refreshOverMqtt}. */
export const MQTT_TOKEN_ENDPOINT_PREFIX = 'mqtt:';

type Json = Record<string, unknown>;
interface Answer {
  accepted: boolean;
  payload: string;
}

/** One flow's topics, key and message routing. @internal */
class Channel {
  readonly #waiting = new Map<string, Array<(a: Answer) => void>>();
  #onStatus: ((status: string) => void) | undefined;
  #statusSeen: string | undefined;
  readonly #listener: (topic: string, payload: Uint8Array) => void;

  constructor(
    readonly client: MqttClientLike,
    readonly base: string,
    readonly answerTimeoutMs: number,
    readonly timers: Pick<Timers, 'setTimeout' | 'clearTimeout'> = systemTimers,
  ) {
    this.#listener = (topic, payload) => {
      if (!topic.startsWith(this.base)) return;
      const tail = topic.slice(this.base.length);
      const text = new TextDecoder().decode(payload);
      if (tail === 'status') {
        const status = safeJson(text).status;
        if (typeof status !== 'string') return;
        this.#statusSeen = status;
        this.#onStatus?.(status);
        return;
      }
      const match = /^(authorize|token|refresh)\/(accepted|rejected)$/.exec(tail);
      if (!match) return;
      this.#waiting.get(match[1]!)?.shift()?.({ accepted: match[2] === 'accepted', payload: text });
    };
    client.on('message', this.#listener);
  }

  async open(): Promise<void> {
    // Subscribe first (issue 6): an answer published before the subscription would be lost.
    await new Promise<void>((resolve, reject) => this.client.subscribe(`${this.base}#`, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  }

  onStatus(listener: ((status: string) => void) | undefined): string | undefined {
    this.#onStatus = listener;
    return this.#statusSeen;
  }

  /** Publish a request and wait for its accepted/rejected answer. */
  request(action: 'authorize' | 'token' | 'refresh', payload: string, signal?: AbortSignal): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const queue = this.#waiting.get(action) ?? [];
      this.#waiting.set(action, queue);
      const done = (a: Answer) => {
        this.timers.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(a);
      };
      const fail = (err: unknown) => {
        const i = queue.indexOf(done);
        if (i >= 0) queue.splice(i, 1);
        this.timers.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      const onAbort = () => fail(new AbortedError(signal?.reason));
      const timer = this.timers.setTimeout(() => fail(new OAuthResponseError('temporarily_unavailable', `no answer on ${this.base}${action}/… within ${this.answerTimeoutMs} ms`, 0)), this.answerTimeoutMs);
      signal?.addEventListener('abort', onAbort);
      queue.push(done);
      this.client.publish(`${this.base}${action}`, payload, { qos: 1, retain: false }, (err) => err && fail(err));
    });
  }

  close(): void {
    this.client.off('message', this.#listener);
    this.client.unsubscribe(`${this.base}#`);
  }
}

function safeJson(text: string): Json {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Json) : {};
  } catch {
    return {};
  }
}

function rejection(answer: Answer, Kind: typeof OAuthResponseError = OAuthResponseError): OAuthResponseError {
  const body = safeJson(answer.payload);
  return new Kind(String(body.error ?? 'invalid_response'), String(body.error_description ?? ''), 400);
}

/**
 * A fresh request id: 128 random bits, base64url (22 characters).
 *
 * @example
 * ```ts
 * const rid = newRequestId()
 * const client = await mqtt.connectAsync(url, { clientId: rid }) // ACL: kalm/v1/device/%c/#
 * const auth = await startMqttDeviceAuthorization({ client, rid, clientId: 'thermostat' })
 * ```
 */
export function newRequestId(): string {
  return randomRid();
}

function randomRid(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomJti(): string {
  return randomRid();
}

interface DeviceKey {
  publicJwk: JWK;
  signingKey: CryptoKey;
  decryptionKey: CryptoKey;
}

async function newDeviceKey(): Promise<DeviceKey> {
  // One P-256 key per flow: ES256 for the token proofs, ECDH-ES for the encrypted answers.
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const { kty, crv, x, y } = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const decryptionKey = (await importJWK({ ...privateJwk, alg: 'ECDH-ES+A256KW' }, 'ECDH-ES+A256KW')) as CryptoKey;
  return { publicJwk: { kty, crv, x, y } as JWK, signingKey: privateKey, decryptionKey };
}

async function openAnswer(key: CryptoKey, jwe: string): Promise<Json> {
  const { plaintext } = await compactDecrypt(jwe.trim(), key, { keyManagementAlgorithms: ['ECDH-ES+A256KW'], contentEncryptionAlgorithms: ['A256GCM'] });
  return JSON.parse(new TextDecoder().decode(plaintext)) as Json;
}

function pairingOf(body: Json, now: number, previous: Omit<Pairing, 'accessToken' | 'tokenType'>): Pairing {
  if (typeof body.access_token !== 'string' || typeof body.token_type !== 'string') {
    throw new OAuthResponseError('invalid_response', 'the decrypted answer has no access_token or token_type', 0);
  }
  return {
    ...previous,
    accessToken: body.access_token,
    tokenType: body.token_type,
    expiresAt: typeof body.expires_in === 'number' ? now + body.expires_in * 1000 : undefined,
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : previous.refreshToken,
    scope: typeof body.scope === 'string' ? body.scope : previous.scope,
  };
}

/**
 * Start the device flow over MQTT: make a key and a rid, subscribe, publish `authorize`.
 * Show `userCode` and `verificationUriComplete`, then call `wait()`.
 *
 * @example
 * ```ts
 * import mqtt from 'mqtt'
 * const client = await mqtt.connectAsync('mqtts://broker.example')
 * const auth = await startMqttDeviceAuthorization({ client, clientId: 'thermostat', scope: 'valuate:read' })
 * show(auth.userCode, auth.verificationUriComplete)
 * const { accessToken } = await auth.wait()
 * ```
 */
export async function startMqttDeviceAuthorization(options: MqttStartOptions): Promise<MqttDeviceAuthorization> {
  const timers = options.timers ?? systemTimers;
  const prefix = options.prefix ?? 'kalm/v1';
  const scope = Array.isArray(options.scope) ? options.scope.join(' ') : options.scope;
  const key = await newDeviceKey();
  const rid = options.rid ?? randomRid();
  if (!/^[A-Za-z0-9_-]{22,128}$/.test(rid)) throw new TypeError('rid must be 22 to 128 base64url characters');
  // Answer timeouts on the runtime's timers: `timers` paces the polls.
  const channel = new Channel(options.client, `${prefix}/device/${rid}/`, options.answerTimeoutMs ?? 10_000);
  try {
    await channel.open();
    const answer = await channel.request('authorize', JSON.stringify({ client_id: options.clientId, scope, jwk: key.publicJwk }), options.signal);
    if (!answer.accepted) throw rejection(answer);
    const body = safeJson(answer.payload);
    const expiresIn = Number(body.expires_in);
    if (typeof body.user_code !== 'string' || typeof body.verification_uri !== 'string' || !(expiresIn > 0)) {
      throw new OAuthResponseError('invalid_response', 'authorize/accepted lacks user_code, verification_uri or expires_in', 0);
    }
    const auth: MqttDeviceAuthorization = {
      rid,
      userCode: body.user_code,
      verificationUri: body.verification_uri,
      verificationUriComplete: typeof body.verification_uri_complete === 'string' ? body.verification_uri_complete : undefined,
      expiresIn,
      expiresAt: timers.now() + expiresIn * 1000,
      interval: Number(body.interval) || 5,
      wait: (waitOptions = {}) => waitForTokens(auth, channel, key, { ...options, ...waitOptions, timers: waitOptions.timers ?? timers, scope: scope ?? '', prefix }),
      close: () => channel.close(),
    };
    return auth;
  } catch (err) {
    channel.close();
    throw err;
  }
}

type WaitContext = MqttStartOptions & WaitOptions & { timers: Timers; scope: string; prefix: string };

async function waitForTokens(auth: MqttDeviceAuthorization, channel: Channel, key: DeviceKey, ctx: WaitContext): Promise<Pairing> {
  const { timers, signal, onStatus = () => {} } = ctx;
  let interval = auth.interval;
  let clockOffset = 0;
  let wake: (() => void) | undefined;
  let pushed = false;
  const statusNow = channel.onStatus((status) => {
    onStatus({ type: 'push', status: status as 'approved' | 'denied' | 'expired' });
    pushed = true;
    wake?.();
  });
  if (statusNow) pushed = true;
  const onAbort = () => wake?.();
  signal?.addEventListener('abort', onAbort);
  let handle: unknown;
  try {
    for (;;) {
      // RFC 8628 §3.5: wait the interval between requests, unless a decision was pushed.
      if (!pushed) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          if (!signal?.aborted) handle = timers.setTimeout(resolve, Math.max(0, Math.min(interval * 1000, auth.expiresAt - timers.now())));
          else resolve();
        });
        timers.clearTimeout(handle);
      }
      if (signal?.aborted) throw new AbortedError(signal.reason);
      pushed = false;
      const now = timers.now();
      if (now >= auth.expiresAt) throw new ExpiredTokenError('expired_token', 'codes expired', 0);
      const proof = await new SignJWT({ rid: auth.rid, jti: randomJti() })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuedAt(Math.floor((now + clockOffset) / 1000))
        .sign(key.signingKey);
      const answer = await channel.request('token', proof, signal);
      if (answer.accepted) {
        const body = await openAnswer(key.decryptionKey, answer.payload);
        const pairing = pairingOf(body, now, { clientId: ctx.clientId, tokenEndpoint: `${MQTT_TOKEN_ENDPOINT_PREFIX}${ctx.prefix}`, scope: ctx.scope });
        await ctx.store?.save(pairing);
        return pairing;
      }
      const body = safeJson(answer.payload);
      if (body.error === 'authorization_pending') {
        onStatus({ type: 'pending' });
      } else if (body.error === 'slow_down') {
        const asked = Number(body.interval);
        interval = asked > interval ? asked : interval + 5;
        onStatus({ type: 'slow_down', interval });
      } else if (body.error === 'access_denied') {
        throw rejection(answer, AccessDeniedError);
      } else if (body.error === 'expired_token') {
        throw rejection(answer, ExpiredTokenError);
      } else if (typeof body.server_time === 'number') {
        // The device's clock is off (no RTC, no SNTP yet): sign the next proof on server time, now.
        clockOffset = body.server_time * 1000 - now;
        pushed = true;
      } else {
        throw rejection(answer);
      }
    }
  } finally {
    timers.clearTimeout(handle);
    signal?.removeEventListener('abort', onAbort);
    channel.onStatus(undefined);
    channel.close();
  }
}

/** Options of {@link refreshOverMqtt}. */
export interface MqttRefreshOptions {
  client: MqttClientLike;
  /** The pairing to renew (its refresh token is spent). */
  pairing: Pairing;
  /** The server's encryption key: the `use: "enc"` key of its `/jwks.json` (or the whole JWKS). */
  serverKey: JWK | { keys: JWK[] };
  /** Saves the rotated pairing before it is returned. */
  store?: TokenStore;
  prefix?: string;
  /** Clock and timers (the answer timeout); default the system ones. */
  timers?: Timers;
  /** How long to wait for an answer before asking again, ms. Default 10,000. */
  answerTimeoutMs?: number;
  /** How many times to ask when no answer comes. Default 3. */
  attempts?: number;
}

/**
 * The key (and rid) a refresh token was sent with, until an answer to it arrives. The server
 * keeps the rotated pair for that token and key: asking again with them gets the same pair,
 * while the spent token with any other key counts as reuse and ends the pairing (RFC 9700
 * §4.14.2). So a refresh whose answer was lost is asked again with the same key, in this call
 * or the next one for the same token.
 */
const unanswered = new Map<string, Promise<{ key: DeviceKey; rid: string }>>();

/**
 * Refresh (RFC 6749 §6) over MQTT: the refresh token travels JWE-encrypted to the server's
 * key, the rotated pair comes back encrypted to a device key. When no answer comes it asks
 * again with the same key (see `attempts`), and a later call for the same refresh token does
 * too, so a lost answer never ends the pairing. Throws {@link PairingLostError} (and clears
 * `store`) when the server refuses the refresh token, and `temporarily_unavailable` when no
 * answer came at all.
 */
export async function refreshOverMqtt(options: MqttRefreshOptions): Promise<Pairing> {
  const { pairing } = options;
  const refreshToken = pairing.refreshToken;
  if (!refreshToken) throw new PairingLostError('invalid_grant', 'no refresh token', 0);
  const timers = options.timers ?? systemTimers;
  const serverJwk = 'keys' in options.serverKey ? options.serverKey.keys.find((k) => k.use === 'enc') : options.serverKey;
  if (!serverJwk) throw new OAuthResponseError('invalid_request', 'no encryption key (use "enc") in the given JWKS', 0);
  let sent = unanswered.get(refreshToken);
  if (!sent) unanswered.set(refreshToken, (sent = newDeviceKey().then((key) => ({ key, rid: randomRid() }))));
  const { key, rid } = await sent;
  const prefix = options.prefix ?? (pairing.tokenEndpoint.startsWith(MQTT_TOKEN_ENDPOINT_PREFIX) ? pairing.tokenEndpoint.slice(MQTT_TOKEN_ENDPOINT_PREFIX.length) : 'kalm/v1');
  const serverKey = await importJWK(serverJwk, 'ECDH-ES+A256KW');
  // A new proof (iat, jti) each time it is asked; the token, rid and key stay.
  const request = async (now: number) =>
    new CompactEncrypt(
      new TextEncoder().encode(
        JSON.stringify({ client_id: pairing.clientId, refresh_token: refreshToken, rid, iat: Math.floor(now / 1000), jti: randomJti(), jwk: key.publicJwk }),
      ),
    )
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', ...(serverJwk.kid ? { kid: serverJwk.kid } : {}) })
      .encrypt(serverKey);
  const channel = new Channel(options.client, `${prefix}/device/${rid}/`, options.answerTimeoutMs ?? 10_000, timers);
  try {
    await channel.open();
    for (let attempt = 1; ; attempt++) {
      const now = timers.now();
      let answer: Answer;
      try {
        answer = await channel.request('refresh', await request(now));
      } catch (err) {
        // No answer: ask again, the same way; after the last attempt the key stays for the next call.
        if (attempt < (options.attempts ?? 3) && err instanceof OAuthResponseError && err.error === 'temporarily_unavailable') continue;
        throw err;
      }
      unanswered.delete(refreshToken);
      if (!answer.accepted) {
        const err = rejection(answer, safeJson(answer.payload).error === 'invalid_grant' ? PairingLostError : OAuthResponseError);
        if (err instanceof PairingLostError) await options.store?.clear();
        throw err;
      }
      const next = pairingOf(await openAnswer(key.decryptionKey, answer.payload), now, pairing);
      // The old refresh token is spent: keep the new one before anything else.
      await options.store?.save(next);
      return next;
    }
  } finally {
    channel.close();
  }
}
