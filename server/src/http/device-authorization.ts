import { Router } from 'express';
import type { Core } from '../core/index.js';
import { pushEndpointUrl } from '../push/limits.js';
import { readClientCredentials, readForm } from './form.js';
import { noStore } from './oauth-errors.js';

/** RFC 8628 §3.1–3.2: `POST /device_authorization`. */
export function deviceAuthorizationRouter(core: Core): Router {
  const router = Router();
  router.post('/device_authorization', noStore, async (req, res) => {
    const params = readForm(req);
    const client = await core.clients.authenticate(readClientCredentials(req, params));
    const response = await core.deviceFlow.authorize(client, params.scope, {
      ip: req.ip,
      userAgent: req.get('user-agent'),
    });
    // RFC 8628 §3.2 lets the response carry more members: where to wait for the decision instead of polling.
    res.json({ ...response, push_uri: pushEndpointUrl(core.config.publicUrl) });
  });
  return router;
}
