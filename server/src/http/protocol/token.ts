/** RFC 6749 §3.2: the token endpoint, one handler per grant type. */
import type { IncomingMessage } from 'node:http';
import { GRANT_TYPES } from '../../core/clients.js';
import { assertProofIfRequired, type DpopProof } from '../../core/dpop.js';
import { OAuthError } from '../../core/errors.js';
import type { AuditContext, Core } from '../../core/index.js';
import type { TokenResponse } from '../../core/tokens.js';
import type { ClientRecord } from '../../store/port/index.js';
import { checkTokenRequestProof, dpopHeader, withDpopNonce } from './dpop.js';
import { readClientCredentials, required, type FormParams } from './form.js';
import type { WithHeaders } from './send.js';

/**
 * One grant type of the token endpoint: the client is authenticated and allowed the grant.
 * `dpop` is the key of the request's checked DPoP proof (RFC 9449 §5), when it carried one;
 * `context`, the client's address for the audit trail.
 */
export type GrantHandler = (input: { core: Core; client: ClientRecord; params: FormParams; dpop: DpopProof | undefined; context: AuditContext }) => Promise<TokenResponse>;

/** The grant types `/token` serves, by `grant_type` value. */
export const grantHandlers: Record<string, GrantHandler> = {
  // RFC 8628 §3.4
  [GRANT_TYPES.deviceCode]: ({ core, client, params, dpop, context }) => core.deviceFlow.poll(client, required(params, 'device_code'), dpop, context),
  // RFC 6749 §6
  [GRANT_TYPES.refreshToken]: ({ core, client, params, dpop, context }) =>
    core.tokens.refresh(client, required(params, 'refresh_token'), params.scope, undefined, dpop, context),
  // RFC 6749 §4.1.3 with RFC 7636 §4.5
  [GRANT_TYPES.authorizationCode]: ({ core, client, params, dpop }) =>
    core.authorizationCode.redeem(client, { code: required(params, 'code'), redirectUri: params.redirect_uri, codeVerifier: params.code_verifier, dpop }),
  // RFC 6749 §4.4.2
  [GRANT_TYPES.clientCredentials]: ({ core, client, params, dpop }) => core.clientCredentials.issue(client, params.scope, dpop),
};

/**
 * RFC 6749 §3.2: the answer of `POST /token`. The grant type is read first, then the client
 * authenticated, then its DPoP proof checked (RFC 9449 §5), then the grant checked and run. Most
 * answers are errors (every pending poll is authorization_pending), thrown as OAuthError and
 * answered by the router. A request without a `DPoP` header (the pending poll, the hot path)
 * costs one header lookup more than before.
 */
export function tokenAnswer(core: Core, req: IncomingMessage, params: FormParams, context: AuditContext = {}): Promise<TokenResponse | WithHeaders> {
  if (req.headers.dpop === undefined) return grantAnswer(core, req, params, undefined, context);
  return withDpopNonce(core, () => grantAnswer(core, req, params, dpopHeader(req), context));
}

async function grantAnswer(core: Core, req: IncomingMessage, params: FormParams, proof: string | undefined, context: AuditContext): Promise<TokenResponse> {
  const grantType = required(params, 'grant_type');
  const client = await core.clients.authenticate(readClientCredentials(req, params));
  const handler = Object.hasOwn(grantHandlers, grantType) ? grantHandlers[grantType] : undefined;
  if (!handler) throw new OAuthError('unsupported_grant_type', `grant_type "${grantType}" is not supported`);
  core.clients.assertGrant(client, grantType);
  assertProofIfRequired(client, proof);
  const dpop = proof === undefined ? undefined : await checkTokenRequestProof(core, proof);
  return handler({ core, client, params, dpop, context });
}
