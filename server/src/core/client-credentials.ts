import type { Clock } from './clock.js';
import { GRANT_TYPES } from './clients.js';
import type { DpopProof } from './dpop.js';
import { OAuthError } from './errors.js';
import { newGrant } from './grants.js';
import { formatScope, resolveRequestedScope, type ScopeCatalog } from './scopes.js';
import type { RandomSource } from './secrets.js';
import type { TokenResponse, TokenService } from './tokens.js';
import type { Config } from '../config.js';
import type { ClientRecord, Store } from '../store/port/index.js';

export interface ClientCredentialsFlow {
  /**
   * RFC 6749 §4.4: an access token for the client itself (`sub` = client id), never a
   * refresh token (§4.4.3). The client is already authenticated and allowed the grant.
   * With `dpop` (RFC 9449 §5), the access token is bound to its key.
   */
  issue(client: ClientRecord, scope: string | undefined, dpop?: DpopProof): Promise<TokenResponse>;
}

// Grants behind client credentials tokens are kept while a token they back may still be
// valid; a little slack covers a token minted just before the purge ran.
const GRANT_KEEP_SLACK_MS = 5 * 60 * 1000;

export function createClientCredentialsFlow(deps: {
  store: Store;
  tokens: TokenService;
  catalog: ScopeCatalog;
  clock: Clock;
  random: RandomSource;
  config: Config;
}): ClientCredentialsFlow {
  const { store, clock, config } = deps;
  return {
    async issue(client, scope, dpop) {
      // RFC 6749 §4.4: "MUST only be used by confidential clients". Registration already refuses
      // the grant to public clients; this keeps core safe on its own.
      if (client.type !== 'confidential') {
        throw new OAuthError('unauthorized_client', 'client credentials are for confidential clients only');
      }
      // RFC 6749 §3.3: nothing requested means the client's pre-defined (allowed) scopes.
      const scopes = resolveRequestedScope(scope, client.scopes, deps.catalog);
      if (scopes.length === 0) throw new OAuthError('invalid_scope', 'no scope requested and the client has none allowed');
      const now = clock.now();
      // A grant per token (no person, no refresh token): deleting the client or revoking the
      // grant ends the token like any other, and resource servers see one `grant_id` claim shape.
      const grant = newGrant(deps.random, now, { clientId: client.id, userId: null, scopes, origin: GRANT_TYPES.clientCredentials });
      const access = await deps.tokens.mintAccessToken({ client, sub: client.id, scopes, grantId: grant.id, dpop });
      await store.authorization.insertClientCredentialsGrant(grant, now - config.accessTokenTtl * 1000 - GRANT_KEEP_SLACK_MS);
      return { access_token: access.token, token_type: dpop ? 'DPoP' : 'Bearer', expires_in: access.expiresIn, scope: formatScope(scopes) };
    },
  };
}
