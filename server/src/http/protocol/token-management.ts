/** RFC 7009 token revocation and RFC 7662 token introspection. */
import type { IncomingMessage } from 'node:http';
import { OAuthError } from '../../core/errors.js';
import type { AuditContext, Core } from '../../core/index.js';
import { readClientCredentials, required, type FormParams } from './form.js';

/** RFC 7009 §2.1: the answer to `POST /revoke`, an empty 200. */
export async function revocationAnswer(core: Core, req: IncomingMessage, params: FormParams, context: AuditContext = {}): Promise<undefined> {
  const client = await core.clients.authenticate(readClientCredentials(req, params));
  const token = required(params, 'token');
  // RFC 7009 §2.2: 200 whether or not the token was known or already revoked.
  await core.tokens.revoke(client, token, params.token_type_hint, context);
  return undefined;
}

/** RFC 7662 §2: the answer to `POST /introspect`. */
export async function introspectionAnswer(core: Core, req: IncomingMessage, params: FormParams): Promise<object> {
  const credentials = readClientCredentials(req, params);
  // RFC 7662 §2.1: the caller must authenticate; a public client cannot.
  if (credentials.method === 'none') throw new OAuthError('invalid_client', 'introspection needs client authentication');
  await core.clients.authenticate(credentials);
  return core.tokens.introspect(required(params, 'token'), params.token_type_hint);
}
