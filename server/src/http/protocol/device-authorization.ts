/** RFC 8628 §3.1–3.2: the device authorization endpoint. */
import type { IncomingMessage } from 'node:http';
import type { Core } from '../../core/index.js';
import { pushEndpointUrl } from '../../urls.js';
import { readClientCredentials, type FormParams } from './form.js';

/**
 * RFC 8628 §3.1–3.2: the answer to `POST /device_authorization`. `ip` is the client's address as
 * TRUST_PROXY sees it.
 */
export async function deviceAuthorizationAnswer(core: Core, req: IncomingMessage, params: FormParams, ip: string | undefined): Promise<Record<string, unknown>> {
  const client = await core.clients.authenticate(readClientCredentials(req, params));
  const response = await core.deviceFlow.authorize(client, params.scope, { ip, userAgent: req.headers['user-agent'] });
  // RFC 8628 §3.2 lets the response carry more members: where to wait for the decision instead of polling.
  return { ...response, push_uri: pushEndpointUrl(core.config.publicUrl) };
}
