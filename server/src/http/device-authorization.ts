import { Router } from 'express';
import type { Core } from '../core/index.js';
import { pushEndpointUrl } from '../urls.js';
import { readClientCredentials, readForm, type FormParams, type FormRequest } from './form.js';
import { noStore } from './oauth-errors.js';

/**
 * RFC 8628 §3.1–3.2: the answer to a device authorization request, for the Express route below
 * and the fast path (fast-path.ts). `ip` is the client's address as TRUST_PROXY sees it.
 */
export async function deviceAuthorizationAnswer(core: Core, req: FormRequest, params: FormParams, ip: string | undefined): Promise<Record<string, unknown>> {
  const client = await core.clients.authenticate(readClientCredentials(req, params));
  const response = await core.deviceFlow.authorize(client, params.scope, { ip, userAgent: req.headers['user-agent'] });
  // RFC 8628 §3.2 lets the response carry more members: where to wait for the decision instead of polling.
  return { ...response, push_uri: pushEndpointUrl(core.config.publicUrl) };
}

/** RFC 8628 §3.1–3.2: `POST /device_authorization`. */
export function deviceAuthorizationRouter(core: Core): Router {
  const router = Router();
  router.post('/device_authorization', noStore, async (req, res) => {
    res.json(await deviceAuthorizationAnswer(core, req, readForm(req), req.ip));
  });
  return router;
}
