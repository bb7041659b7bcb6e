/**
 * The form of a protocol request (RFC 6749 §3.1, §3.2): the body read by the one form parser,
 * its parameters checked (content type, no repeats, empty = absent), and the client's
 * credentials (§2.3.1).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientCredentials } from '../../core/clients.js';
import { OAuthError } from '../../core/errors.js';
import { readBody, type BodyParser, type ParsedRequest } from '../body-parsers.js';

/** A parsed form whose every parameter appears at most once (RFC 6749 §3.1, §3.2). */
export type FormParams = Record<string, string | undefined>;

/** Read `req`'s body with the form parser (body-parsers.ts), then its parameters (`readForm`). */
export async function readRequestForm(parser: BodyParser, req: IncomingMessage, res: ServerResponse): Promise<FormParams> {
  return readForm(await readBody(parser, req, res));
}

/**
 * The request's form parameters, or invalid_request when the body is not
 * `application/x-www-form-urlencoded` or repeats a parameter. Empty values count
 * as absent (RFC 6749 §3.1: "parameters sent without a value MUST be treated as
 * if they were omitted").
 */
export function readForm(req: ParsedRequest): FormParams {
  // Judge the header itself: type-is answers null for an empty body, which is a missing
  // parameter, not a wrong content type.
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const body = (req.body ?? {}) as Record<string, unknown>;
  // No prototype: a parameter named `constructor` or `toString` is just a parameter.
  const params: FormParams = Object.create(null) as FormParams;
  for (const [name, value] of Object.entries(body)) {
    if (typeof value !== 'string') throw new OAuthError('invalid_request', `parameter "${name}" is repeated`);
    if (value !== '') params[name] = value;
  }
  return params;
}

export function required(params: FormParams, name: string): string {
  const value = params[name];
  if (value === undefined) throw new OAuthError('invalid_request', `missing parameter "${name}"`);
  return value;
}

function formDecode(value: string): string {
  // RFC 6749 Appendix B: id and secret are form-encoded before they are put in Basic.
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

const invalidClient = (description: string) => new OAuthError('invalid_client', description);

/**
 * RFC 6749 §2.3.1: the client's credentials from `Authorization: Basic` or the body.
 * Using two methods is refused, except that a `client_id` in the body that matches
 * the Basic one is accepted (some clients always send it).
 */
export function readClientCredentials(req: IncomingMessage, params: FormParams): ClientCredentials {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Basic ([A-Za-z0-9+/=._~-]+)$/i.exec(header.trim());
    if (!match) throw invalidClient('unsupported or malformed Authorization header');
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalidClient('malformed Basic credentials');
    let clientId: string;
    let clientSecret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      clientSecret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw invalidClient('malformed Basic credentials');
    }
    if (params.client_secret !== undefined) {
      throw new OAuthError('invalid_request', 'use one client authentication method, not two');
    }
    if (params.client_id !== undefined && params.client_id !== clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body does not match the Authorization header');
    }
    if (clientId === '') throw invalidClient('empty client id');
    return { clientId, clientSecret, method: 'client_secret_basic' };
  }
  if (params.client_id === undefined) throw invalidClient('client authentication required');
  if (params.client_secret !== undefined) {
    return { clientId: params.client_id, clientSecret: params.client_secret, method: 'client_secret_post' };
  }
  return { clientId: params.client_id, method: 'none' };
}
