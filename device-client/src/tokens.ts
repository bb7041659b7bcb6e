import { OAuthResponseError, PairingLostError } from './errors.js';
import { member, num, post, type HttpOptions } from './http.js';
import { systemTimers, type Timers } from './timers.js';

/** What a device keeps after pairing: the tokens and where to renew them. Serialisable as JSON. */
export interface Pairing {
  /** Access token to send as `Authorization: Bearer …` (or `DPoP …` with a proof, `./dpop`). */
  accessToken: string;
  /** RFC 6749 §7.1 token type: `Bearer`, or `DPoP` when bound to the device's key (RFC 9449 §5). */
  tokenType: string;
  /** When the access token expires, ms since the epoch; absent when the server did not say. */
  expiresAt?: number | undefined;
  /** The refresh token; rotated (replaced) on every refresh by servers that rotate. */
  refreshToken?: string | undefined;
  /** The granted scope, space-separated (RFC 6749 §3.3); may be narrower than requested. */
  scope: string;
  /** The `client_id` the tokens belong to. */
  clientId: string;
  /** The token endpoint that refreshes them. */
  tokenEndpoint: string;
  /** The push channel that reports revocation, when the server has one. */
  pushUri?: string | undefined;
}

/**
 * Where a pairing is kept. The embedding app may give its own (secure element,
 * keychain, IndexedDB); `MemoryTokenStore` here, `FileTokenStore` in `./node`.
 * `save` must resolve only once the pairing is durable: a rotated refresh token
 * that is lost cannot be recovered.
 */
export interface TokenStore {
  /** The current pairing, or undefined when the device is not paired. */
  load(): Promise<Pairing | undefined>;
  /** Replace the pairing. */
  save(pairing: Pairing): Promise<void>;
  /** Forget the pairing. */
  clear(): Promise<void>;
}

/** A {@link TokenStore} in memory: pairing lasts as long as the process or page. */
export class MemoryTokenStore implements TokenStore {
  #pairing: Pairing | undefined;
  /** The current pairing. */
  async load() {
    return this.#pairing;
  }
  /** Replace the pairing. */
  async save(pairing: Pairing) {
    this.#pairing = pairing;
  }
  /** Forget the pairing. */
  async clear() {
    this.#pairing = undefined;
  }
}

/**
 * A successful token response (RFC 6749 §5.1) as a {@link Pairing}. Members the
 * response leaves out are kept from `previous` (§6: the server MAY keep the
 * refresh token; §5.1: scope is omitted when unchanged). @internal
 */
export function toPairing(body: Record<string, unknown>, now: number, previous: Omit<Pairing, 'accessToken' | 'tokenType'>): Pairing {
  const expiresIn = num(body.expires_in);
  return {
    ...previous,
    accessToken: member(body, 'access_token'),
    tokenType: member(body, 'token_type'),
    expiresAt: expiresIn && now + expiresIn * 1000,
    refreshToken: (body.refresh_token as string | undefined) ?? previous.refreshToken,
    scope: (body.scope as string | undefined) ?? previous.scope,
  };
}

/** Options of {@link getAccessToken}. */
export interface AccessTokenOptions extends HttpOptions {
  /** Refresh when the access token has fewer than this many seconds left. Default 60. */
  refreshBefore?: number;
  /** Clock; defaults to the system clock. */
  timers?: Pick<Timers, 'now'>;
  /** Refresh even when the access token is still fresh. */
  force?: boolean;
  /**
   * Transport seam: how to redeem the refresh token. Default RFC 6749 §6 over HTTP at
   * `pairing.tokenEndpoint`; the MQTT transport passes its own. Reject with an
   * {@link OAuthResponseError} (`invalid_grant` ends the pairing).
   */
  refresh?: (pairing: Pairing, options: AccessTokenOptions) => Promise<Pairing>;
}

// Calls for one store run one after another: two concurrent refreshes would present the
// same refresh token twice, and RFC 9700 §4.14.2 reuse detection would end the pairing.
// Queueing the whole call (not only the refresh) means a caller never loads a pairing
// whose refresh token another caller is spending.
const queues = new WeakMap<TokenStore, Promise<unknown>>();

/** RFC 6749 §6 over HTTP: the default {@link AccessTokenOptions.refresh}. */
async function refreshOverHttp(pairing: Pairing, options: AccessTokenOptions): Promise<Pairing> {
  const now = (options.timers ?? systemTimers).now();
  const { body } = await post(pairing.tokenEndpoint, { ...options, clientId: pairing.clientId }, undefined, { grant_type: 'refresh_token', refresh_token: pairing.refreshToken! });
  return toPairing(body, now, pairing);
}

async function freshAccessToken(store: TokenStore, options: AccessTokenOptions): Promise<string> {
  try {
    const pairing = await store.load();
    // No expiry given: the access token counts as fresh until the resource server refuses it.
    const expiresAt = pairing?.expiresAt ?? Infinity;
    if (pairing && !options.force && expiresAt - (options.refreshBefore ?? 60) * 1000 > (options.timers ?? systemTimers).now()) return pairing.accessToken;
    if (!pairing?.refreshToken) throw new OAuthResponseError('invalid_grant', pairing ? 'no refresh token' : 'not paired', 0);
    const next = await (options.refresh ?? refreshOverHttp)(pairing, options);
    // Persist the rotated refresh token before anyone uses the new access token: the old
    // refresh token is already spent on the server.
    await store.save(next);
    return next.accessToken;
  } catch (error) {
    if (!(error instanceof OAuthResponseError) || error.error !== 'invalid_grant') throw error;
    await store.clear();
    throw new PairingLostError('invalid_grant', error.description, error.status);
  }
}

/**
 * A valid access token from `store`, refreshed (RFC 6749 §6) shortly before it
 * expires. The rotated refresh token is saved before the new access token is
 * returned. Throws {@link PairingLostError} when there is no pairing or the server
 * refuses the refresh token (`invalid_grant`); the store is then cleared.
 *
 * @example
 * ```ts
 * const token = await getAccessToken(store)
 * await fetch(api, { headers: { authorization: `Bearer ${token}` } })
 * ```
 */
export function getAccessToken(store: TokenStore, options: AccessTokenOptions = {}): Promise<string> {
  const result = Promise.resolve(queues.get(store)).then(() => freshAccessToken(store, options));
  queues.set(store, result.catch(() => {}));
  return result;
}
