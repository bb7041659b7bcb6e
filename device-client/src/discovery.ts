import { OAuthResponseError } from './errors.js';
import { member, send, type HttpOptions } from './http.js';

/** The endpoints the client talks to. */
export interface Endpoints {
  /** RFC 8628 §3.1 device authorization endpoint. */
  deviceAuthorizationEndpoint: string;
  /** RFC 6749 §3.2 token endpoint. */
  tokenEndpoint: string;
}

/** Where to find the server: an issuer to discover (RFC 8414), explicit endpoints, or both (explicit ones win). */
export interface ServerOptions extends HttpOptions {
  /** The issuer identifier, such as `http://localhost:8080`. */
  issuer?: string;
  /** Endpoints given by hand; when both required ones are here, no discovery request is made. */
  endpoints?: Partial<Endpoints>;
}

/**
 * Read RFC 8414 authorization server metadata. The well-known segment goes between
 * host and path (§3.1), and the `issuer` it names must equal the one asked for (§3.3).
 *
 * @example
 * ```ts
 * const { tokenEndpoint } = await discover('http://localhost:8080')
 * ```
 */
export async function discover(issuer: string, options: HttpOptions & { signal?: AbortSignal } = {}): Promise<Endpoints> {
  const url = new URL(issuer);
  url.pathname = `/.well-known/oauth-authorization-server${url.pathname.replace(/\/$/, '')}`;
  const { body, status } = await send(url.href, options, options.signal);
  if (body.issuer !== issuer) throw new OAuthResponseError('invalid_response', 'issuer mismatch', status);
  return {
    deviceAuthorizationEndpoint: member(body, 'device_authorization_endpoint'),
    tokenEndpoint: member(body, 'token_endpoint'),
  };
}

/** Explicit endpoints, completed by discovery when one is missing. @internal */
export async function resolveEndpoints(options: ServerOptions & { signal?: AbortSignal }): Promise<Endpoints> {
  const given = options.endpoints ?? {};
  if (given.deviceAuthorizationEndpoint && given.tokenEndpoint) return given as Endpoints;
  // No issuer either: `new URL` in discover throws a TypeError.
  return { ...(await discover(options.issuer!, options)), ...given };
}
