import { Router } from 'express';
import { GRANT_TYPES } from '../core/clients.js';
import type { Core } from '../core/index.js';
import { pushEndpointUrl } from '../urls.js';

/**
 * RFC 8414 metadata. Lists only what works; every endpoint and grant added to the
 * server is added here too.
 */
export function authorizationServerMetadata(core: Core): Record<string, unknown> {
  const issuer = core.config.publicUrl;
  return {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    device_authorization_endpoint: `${issuer}/device_authorization`,
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/revoke`,
    introspection_endpoint: `${issuer}/introspect`,
    jwks_uri: `${issuer}/jwks.json`,
    // RFC 7591, with an initial access token from `kalm iat create`.
    registration_endpoint: `${issuer}/register`,
    grant_types_supported: [GRANT_TYPES.authorizationCode, GRANT_TYPES.clientCredentials, GRANT_TYPES.deviceCode, GRANT_TYPES.refreshToken],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    // RFC 7636: PKCE is required for every client, and plain is refused.
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: every authorization response carries `iss`.
    authorization_response_iss_parameter_supported: true,
    scopes_supported: core.catalog.scopes.map((s) => s.name),
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    // RFC 9068 access tokens.
    access_token_signing_alg_values_supported: ['ES256', 'RS256'],
    // Extension (RFC 8414 §2 allows more members): the WebSocket where a waiting device is told its decision.
    device_push_endpoint: pushEndpointUrl(issuer),
  };
}

/** Metadata (RFC 8414, and the OpenID discovery path clients default to), JWKS and the health probe. */
export function discoveryRouter(core: Core): Router {
  const router = Router();
  const metadata = (_req: unknown, res: import('express').Response) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(authorizationServerMetadata(core));
  };
  router.get('/.well-known/oauth-authorization-server', metadata);
  router.get('/.well-known/openid-configuration', metadata);
  router.get('/jwks.json', async (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=60');
    res.json(await core.keys.jwks());
  });
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  return router;
}
