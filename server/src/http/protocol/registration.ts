/** RFC 7591 §3: dynamic client registration, protected by an initial access token from `kalm iat create`. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OAuthError } from '../../core/errors.js';
import type { AuditContext, Core } from '../../core/index.js';
import { readBody, type BodyParser } from '../body-parsers.js';
import { HttpOAuthError, type ParserError } from '../oauth-errors.js';

/** RFC 6750 §2.1: `Authorization: Bearer <token>`; undefined when absent. */
function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  if (!match) throw new OAuthError('invalid_token', 'the Authorization header must be "Bearer <initial access token>"');
  return match[1];
}

const notJson = () => new OAuthError('invalid_client_metadata', 'the body must be a JSON object (application/json)');

/** A body that is not JSON is bad client metadata (RFC 7591 §3.2.2), not a server fault. */
function metadataError(err: unknown): unknown {
  if (err instanceof OAuthError) return err;
  const { type, status } = err as ParserError;
  if (type === 'entity.too.large') return new HttpOAuthError('invalid_client_metadata', 'the metadata document is too large', 413);
  if (typeof status === 'number' && status < 500) return notJson();
  return err;
}

/** The metadata document of the request: its JSON body (`json` parses it), or invalid_client_metadata. */
async function readMetadata(json: BodyParser, req: IncomingMessage, res: ServerResponse): Promise<unknown> {
  let body: unknown;
  try {
    ({ body } = await readBody(json, req, res));
  } catch (err) {
    throw metadataError(err);
  }
  // The parser leaves no body when there is none or its type is not application/json.
  if (body === undefined) throw notJson();
  return body;
}

/** RFC 7591 §3.2.1: the answer to `POST /register` (201), the client's metadata as registered. */
export async function registrationAnswer(core: Core, json: BodyParser, req: IncomingMessage, res: ServerResponse, context: AuditContext = {}): Promise<object> {
  // The token is checked before the body is read, so a caller without one learns nothing.
  const token = bearerToken(req.headers.authorization);
  if (token === undefined) throw new OAuthError('invalid_token', 'an initial access token is required (Authorization: Bearer …)');
  return core.registration.register(token, await readMetadata(json, req, res), context);
}
