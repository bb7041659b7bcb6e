import { AbortedError, OAuthResponseError } from './errors.js';

/**
 * How the client reaches the authorization server. Every field is optional and
 * falls back to the runtime's globals, so the core runs wherever `fetch` exists.
 */
export interface HttpOptions {
  /** `fetch` to use; defaults to the global one. Pass your own for proxies, mTLS or tests. */
  fetch?: typeof fetch;
}

/** Client identification sent with every request to the token and device authorization endpoints. */
export interface ClientCredentials {
  /** The registered `client_id`. */
  clientId: string;
  /**
   * Secret of a confidential client, sent with HTTP Basic (RFC 6749 §2.3.1). Devices
   * are public clients as a rule (RFC 8628 §5.6): leave it out.
   */
  clientSecret?: string;
}

/** A parsed answer: the HTTP status, the JSON body (or `{}`), and `Retry-After` in seconds when present. */
export interface FormResponse {
  status: number;
  body: Record<string, unknown>;
  retryAfter: number | undefined;
}

/** RFC 9110 §10.2.3: `Retry-After` is delay-seconds or an HTTP-date. */
function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const seconds = +value || (Date.parse(value) - now) / 1000;
  return seconds >= 0 ? seconds : undefined;
}

/** RFC 6749 Appendix B: id and secret are form-encoded before they go into Basic. */
const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

/**
 * POST an `application/x-www-form-urlencoded` body (RFC 6749 §3.2) with the client's
 * credentials. Network failures reject with the fetch error, an abort with
 * {@link AbortedError}; any HTTP answer resolves.
 * @internal
 */
export async function postForm(
  url: string,
  params: Record<string, string | undefined>,
  client: ClientCredentials & HttpOptions,
  now: number,
  signal?: AbortSignal,
): Promise<FormResponse> {
  const form = new URLSearchParams();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (client.clientSecret === undefined) form.set('client_id', client.clientId);
  else headers.authorization = `Basic ${btoa(`${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`)}`;
  for (const [name, value] of Object.entries(params)) if (value !== undefined) form.set(name, value);
  const res = await (client.fetch ?? fetch)(url, { method: 'POST', headers, body: form, signal: signal ?? null }).catch((error: unknown) => {
    throw signal?.aborted ? new AbortedError(signal.reason) : error;
  });
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    // A proxy's HTML error page, an empty 503: no JSON to read.
  }
  return {
    status: res.status,
    body: body && typeof body === 'object' ? (body as Record<string, unknown>) : {},
    retryAfter: parseRetryAfter(res.headers.get('retry-after'), now),
  };
}

/** The RFC 6749 §5.2 error of a failed answer, as `Type` (default {@link OAuthResponseError}). @internal */
export function errorOf(res: FormResponse, Type: typeof OAuthResponseError = OAuthResponseError): OAuthResponseError {
  const { error, error_description: description } = res.body;
  return new Type(typeof error === 'string' ? error : 'invalid_response', typeof description === 'string' ? description : `HTTP ${res.status}`, res.status);
}

/** A required string member of a server answer, or an `invalid_response` error naming it. @internal */
export function str(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') throw new OAuthResponseError('invalid_response', `no ${name}`, 0);
  return value;
}

/** An optional number member (seconds), or undefined. @internal */
export const num = (value: unknown): number | undefined => (typeof value === 'number' && value >= 0 ? value : undefined);
