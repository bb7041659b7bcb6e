/** RFC 6749 §3.2: the token endpoint, one handler per grant type. */
import type { IncomingMessage } from 'node:http';
import { GRANT_TYPES } from '../../core/clients.js';
import { OAuthError } from '../../core/errors.js';
import type { Core } from '../../core/index.js';
import type { TokenResponse } from '../../core/tokens.js';
import type { ClientRecord } from '../../store/port/index.js';
import { readClientCredentials, required, type FormParams } from './form.js';

/** One grant type of the token endpoint: the client is authenticated and allowed the grant. */
export type GrantHandler = (input: { core: Core; client: ClientRecord; params: FormParams }) => Promise<TokenResponse>;

/** The grant types `/token` serves, by `grant_type` value. */
export const grantHandlers: Record<string, GrantHandler> = {
  // RFC 8628 §3.4
  [GRANT_TYPES.deviceCode]: ({ core, client, params }) => core.deviceFlow.poll(client, required(params, 'device_code')),
  // RFC 6749 §6
  [GRANT_TYPES.refreshToken]: ({ core, client, params }) =>
    core.tokens.refresh(client, required(params, 'refresh_token'), params.scope),
  // RFC 6749 §4.1.3 with RFC 7636 §4.5
  [GRANT_TYPES.authorizationCode]: ({ core, client, params }) =>
    core.authorizationCode.redeem(client, { code: required(params, 'code'), redirectUri: params.redirect_uri, codeVerifier: params.code_verifier }),
  // RFC 6749 §4.4.2
  [GRANT_TYPES.clientCredentials]: ({ core, client, params }) => core.clientCredentials.issue(client, params.scope),
};

/**
 * RFC 6749 §3.2: the answer of `POST /token`. The grant type is read first, then the client
 * authenticated, then the grant checked and run. Most answers are errors (every pending poll is
 * authorization_pending), thrown as OAuthError and answered by the router.
 */
export async function tokenAnswer(core: Core, req: IncomingMessage, params: FormParams): Promise<TokenResponse> {
  const grantType = required(params, 'grant_type');
  const client = await core.clients.authenticate(readClientCredentials(req, params));
  const handler = Object.hasOwn(grantHandlers, grantType) ? grantHandlers[grantType] : undefined;
  if (!handler) throw new OAuthError('unsupported_grant_type', `grant_type "${grantType}" is not supported`);
  core.clients.assertGrant(client, grantType);
  return handler({ core, client, params });
}
