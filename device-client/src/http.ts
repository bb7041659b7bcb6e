import { AbortedError, AccessDeniedError, ExpiredTokenError, OAuthResponseError } from './errors.js';

/**
 * How the client reaches the authorization server. Every field is optional and
 * falls back to the runtime's globals, so the core runs wherever `fetch` exists.
 */
export interface HttpOptions {
  /** `fetch` to use; defaults to the global one. Pass your own for proxies, mTLS or tests. */
  fetch?: typeof fetch;
}

/**
 * Client identification sent with every request to the token and device authorization
 * endpoints. Devices are public clients as a rule (RFC 8628 §5.6); a confidential one
 * passes `fetch: clientSecretBasic(id, secret)` from `@kalm/device-client/client-secret`.
 */
export interface ClientCredentials {
  /** The registered `client_id`. */
  clientId: string;
}

/** A parsed answer: the HTTP status (0: no answer came), the JSON body (or `{}`), the headers. @internal */
export interface FormResponse {
  status: number;
  body: Record<string, unknown>;
  headers?: Headers;
}

/**
 * The one request path of the client: a GET of JSON (discovery), or with `params` a
 * POST of an `application/x-www-form-urlencoded` body (RFC 6749 §3.2) with the
 * `client_id` (§3.2.1: how a public client identifies itself). Network failures reject
 * with the fetch error, an abort with {@link AbortedError}; any HTTP answer resolves, its
 * body parsed once, here.
 * @internal
 */
export async function send(
  url: string,
  client: Partial<ClientCredentials> & HttpOptions,
  signal?: AbortSignal,
  params?: Record<string, string>,
): Promise<FormResponse> {
  const form = params && new URLSearchParams({ ...params, client_id: client.clientId! });
  // RFC 9112 §9.6: the server closes the connection after answering. The client's requests
  // are seconds (polls) to an hour (refreshes) apart, longer than keep-alive timeouts (Node's
  // server 5 s, its fetch 4 s), so a pooled connection would only idle, outliving `wait()`.
  // Browsers drop the header (a forbidden request header) and pool as they see fit.
  const res = await (client.fetch ?? fetch)(url, { method: form && 'POST', headers: { connection: 'close', accept: 'application/json' }, body: form, signal }).catch((error: unknown) => {
    throw signal?.aborted ? new AbortedError(signal.reason) : error;
  });
  // A proxy's HTML error page, an empty 503: no JSON, so no members. `Object()` also turns
  // JSON that is not an object (null, 5, "x") into one without OAuth members.
  const body = Object(await res.json().catch(() => 0)) as Record<string, unknown>;
  return { status: res.status, body, headers: res.headers };
}

/** {@link send} with `params`, where only a 200 answer is a success: anything else rejects with {@link errorOf}. @internal */
export async function post(url: string, client: Partial<ClientCredentials> & HttpOptions, signal: AbortSignal | undefined, params: Record<string, string>): Promise<FormResponse> {
  const res = await send(url, client, signal, params);
  if (res.status !== 200) throw errorOf(res);
  return res;
}

/**
 * The RFC 6749 §5.2 error of a failed answer: {@link AccessDeniedError} and
 * {@link ExpiredTokenError} for their RFC 8628 §3.5 codes, else {@link OAuthResponseError}.
 * @internal
 */
export function errorOf({ body: { error, error_description: description }, status }: FormResponse): OAuthResponseError {
  const code = typeof error === 'string' ? error : 'invalid_response';
  const Type = code === 'access_denied' ? AccessDeniedError : code === 'expired_token' ? ExpiredTokenError : OAuthResponseError;
  return new Type(code, typeof description === 'string' ? description : `HTTP ${status}`, status);
}

/**
 * A required member of a server answer: a non-empty string (or, with `type`, a non-zero
 * number), else an `invalid_response` error naming it. @internal
 */
export function member<T = string>(body: Record<string, unknown>, name: string, type: 'string' | 'number' = 'string'): T {
  const value = body[name];
  if (!value || typeof value !== type) throw new OAuthResponseError('invalid_response', `no ${name}`, 0);
  return value as T;
}

/** An optional number member (seconds), or undefined. @internal */
export const num = (value: unknown): number | undefined => (typeof value === 'number' && value >= 0 ? value : undefined);
