import { Router } from 'express';
import { OAuthError } from '../core/errors.js';
import type { Core } from '../core/index.js';
import { readClientCredentials, readForm, required } from './form.js';
import { noStore } from './oauth-errors.js';

/** RFC 7009 `POST /revoke` and RFC 7662 `POST /introspect`. */
export function tokenManagementRouter(core: Core): Router {
  const router = Router();

  router.post('/revoke', noStore, async (req, res) => {
    const params = readForm(req);
    const client = await core.clients.authenticate(readClientCredentials(req, params));
    const token = required(params, 'token');
    // RFC 7009 §2.2: 200 whether or not the token was known or already revoked.
    await core.tokens.revoke(client, token, params.token_type_hint);
    res.status(200).end();
  });

  router.post('/introspect', noStore, async (req, res) => {
    const params = readForm(req);
    const credentials = readClientCredentials(req, params);
    // RFC 7662 §2.1: the caller must authenticate; a public client cannot.
    if (credentials.method === 'none') throw new OAuthError('invalid_client', 'introspection needs client authentication');
    await core.clients.authenticate(credentials);
    res.json(await core.tokens.introspect(required(params, 'token'), params.token_type_hint));
  });

  return router;
}
