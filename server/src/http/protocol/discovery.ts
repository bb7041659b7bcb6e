/** RFC 8414 authorization server metadata, and the health probe beside it. */
import { GRANT_TYPES } from '../../core/clients.js';
import { DPOP_ALGORITHMS } from '../../core/dpop.js';
import type { Core } from '../../core/index.js';
import { ENDPOINT_PATHS, endpointUrl, pushEndpointUrl } from '../../urls.js';

/**
 * RFC 8414 metadata. Lists only what works; every endpoint and grant added to the
 * server is added here too.
 */
export function authorizationServerMetadata(core: Core): Record<string, unknown> {
  const issuer = core.config.publicUrl;
  return {
    issuer,
    authorization_endpoint: endpointUrl(issuer, ENDPOINT_PATHS.authorization),
    device_authorization_endpoint: endpointUrl(issuer, ENDPOINT_PATHS.deviceAuthorization),
    token_endpoint: endpointUrl(issuer, ENDPOINT_PATHS.token),
    revocation_endpoint: endpointUrl(issuer, ENDPOINT_PATHS.revocation),
    introspection_endpoint: endpointUrl(issuer, ENDPOINT_PATHS.introspection),
    jwks_uri: endpointUrl(issuer, ENDPOINT_PATHS.jwks),
    // RFC 7591, with an initial access token from `kalm iat create`.
    registration_endpoint: endpointUrl(issuer, ENDPOINT_PATHS.registration),
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
    // RFC 9449 §5.1: DPoP proofs accepted at the token endpoint (and by the push channel).
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
    // Extension (RFC 8414 §2 allows more members): the WebSocket where a waiting device is told its decision.
    device_push_endpoint: pushEndpointUrl(issuer),
  };
}

/** The health probe's answer: the process serves requests. */
export const HEALTHY = { status: 'ok' } as const;
