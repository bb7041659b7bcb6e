/**
 * Where the server's endpoints live: the paths the protocol router serves and the URLs the
 * server publishes (RFC 8414 metadata, the device authorization's `push_uri`, the TV page's
 * CSP). One module below every transport, so http/ and push/ need not import each other.
 */

/** The path of each endpoint the server publishes, relative to the public URL (the issuer). */
export const ENDPOINT_PATHS = {
  /** RFC 6749 §3.1, served by the pages. */
  authorization: '/authorize',
  /** RFC 8628 §3.1 */
  deviceAuthorization: '/device_authorization',
  /** RFC 6749 §3.2 */
  token: '/token',
  /** RFC 7009 */
  revocation: '/revoke',
  /** RFC 7662 */
  introspection: '/introspect',
  /** RFC 7591 */
  registration: '/register',
  /** RFC 7517, named by the metadata's `jwks_uri`. */
  jwks: '/jwks.json',
  /** RFC 8414 §3 */
  authorizationServerMetadata: '/.well-known/oauth-authorization-server',
  /** OpenID Connect Discovery 1.0 §4, where many clients look by default. */
  openidConfiguration: '/.well-known/openid-configuration',
  /** The health probe. */
  health: '/healthz',
  /** The WebSocket push endpoint, on the same HTTP server as everything else. */
  push: '/push',
} as const;

/** The URL of one of the endpoints above on the server at `publicUrl`. */
export function endpointUrl(publicUrl: string, path: string): string {
  return `${publicUrl}${path}`;
}

/** The push URL advertised for a server: its public URL with http→ws, https→wss, plus `/push`. */
export function pushEndpointUrl(publicUrl: string): string {
  return `${publicUrl.replace(/^http(s?):/i, 'ws$1:')}${ENDPOINT_PATHS.push}`;
}
