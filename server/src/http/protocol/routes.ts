/**
 * The protocol endpoints, one row each: where, which method, the status and caching of a
 * successful answer, CORS, and the answer itself (one file per RFC endpoint). The router
 * (router.ts) does the rest the same way for every row.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditContext, Core } from '../../core/index.js';
import { clientAddress, trustFunction, type TrustFunction } from '../../net/client-address.js';
import { ENDPOINT_PATHS } from '../../urls.js';
import { formBodyParser, jsonBodyParser } from '../body-parsers.js';
import { deviceAuthorizationAnswer } from './device-authorization.js';
import { authorizationServerMetadata, HEALTHY } from './discovery.js';
import { readRequestForm } from './form.js';
import { registrationAnswer } from './registration.js';
import { NOT_STORED, publicFor, TOKEN_BEARING, type HeaderPolicy } from './send.js';
import { introspectionAnswer, revocationAnswer } from './token-management.js';
import { tokenAnswer } from './token.js';

/** One protocol endpoint. */
export interface Endpoint extends HeaderPolicy {
  path: string;
  /** The status of a successful answer. */
  status: number;
  /**
   * The JSON body of a successful answer (undefined: an empty one); an error answer is an
   * OAuthError thrown. `res` is there for the body parsers only: the router writes the answer.
   */
  answer(req: IncomingMessage, res: ServerResponse): Promise<object | undefined> | object;
}

/**
 * The client's address for the audit trail, worked out only when a flow records an event: a
 * pending poll, the most frequent request, records none and pays nothing for it.
 */
function auditContext(req: IncomingMessage, trust: TrustFunction): AuditContext {
  return {
    get ip() {
      return clientAddress(req, trust);
    },
  };
}

/** Every endpoint the protocol router serves; built once. */
export function protocolEndpoints(core: Core): Endpoint[] {
  const form = formBodyParser(core.config.maxBodyBytes);
  const json = jsonBodyParser(core.config.maxBodyBytes);
  const trust = trustFunction(core.config.trustProxy);
  const metadata = () => authorizationServerMetadata(core);
  return [
    {
      path: ENDPOINT_PATHS.deviceAuthorization,
      method: 'POST',
      status: 200,
      caching: TOKEN_BEARING,
      cors: true,
      answer: async (req, res) => deviceAuthorizationAnswer(core, req, await readRequestForm(form, req, res), clientAddress(req, trust)),
    },
    {
      path: ENDPOINT_PATHS.token,
      method: 'POST',
      status: 200,
      caching: TOKEN_BEARING,
      cors: true,
      answer: async (req, res) => tokenAnswer(core, req, await readRequestForm(form, req, res), auditContext(req, trust)),
    },
    {
      path: ENDPOINT_PATHS.revocation,
      method: 'POST',
      status: 200,
      caching: TOKEN_BEARING,
      cors: true,
      answer: async (req, res) => revocationAnswer(core, req, await readRequestForm(form, req, res), auditContext(req, trust)),
    },
    {
      path: ENDPOINT_PATHS.introspection,
      method: 'POST',
      status: 200,
      caching: TOKEN_BEARING,
      cors: true,
      answer: async (req, res) => introspectionAnswer(core, req, await readRequestForm(form, req, res)),
    },
    // RFC 7591 §3.2.1: 201 Created.
    { path: ENDPOINT_PATHS.registration, method: 'POST', status: 201, caching: TOKEN_BEARING, cors: false, answer: (req, res) => registrationAnswer(core, json, req, res, auditContext(req, trust)) },
    { path: ENDPOINT_PATHS.authorizationServerMetadata, method: 'GET', status: 200, caching: publicFor(300), cors: true, answer: metadata },
    { path: ENDPOINT_PATHS.openidConfiguration, method: 'GET', status: 200, caching: publicFor(300), cors: true, answer: metadata },
    { path: ENDPOINT_PATHS.jwks, method: 'GET', status: 200, caching: publicFor(60), cors: true, answer: () => core.keys.jwks() },
    { path: ENDPOINT_PATHS.health, method: 'GET', status: 200, caching: NOT_STORED, cors: false, answer: () => HEALTHY },
  ];
}
