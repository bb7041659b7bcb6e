/**
 * OAuth errors as HTTP answers (RFC 6749 §5.2), for both HTTP stacks: the status of each error
 * code, the `WWW-Authenticate` challenge of a 401, the JSON body, and the body parser's refusals
 * as errors. Core's `OAuthError` says what went wrong; the status is decided here.
 */
import { NotFoundError, OAuthError, type OAuthErrorCode } from '../core/errors.js';

/**
 * An OAuth error the HTTP transport raises itself, about the request rather than the protocol
 * (a body it cannot read or that is too large), with the status it is answered with.
 */
export class HttpOAuthError extends OAuthError {
  constructor(
    error: OAuthErrorCode,
    description: string,
    readonly status: number,
  ) {
    super(error, description);
  }
}

/** The codes not answered 400 (RFC 6749 §5.2: "400 (Bad Request) ... unless specified otherwise"). */
const STATUS_BY_CODE: Partial<Record<OAuthErrorCode, number>> = {
  // RFC 6749 §5.2: "MAY return an HTTP 401"; always, here, with WWW-Authenticate.
  invalid_client: 401,
  // RFC 6750 §3.1 (the initial access token of RFC 7591 §3).
  invalid_token: 401,
  // RFC 6749 §4.1.2.1: the code stands for a 503 where a redirect cannot carry one; here it can.
  temporarily_unavailable: 503,
};

/** The HTTP status an OAuth error is answered with. */
export function httpStatus(err: OAuthError): number {
  if (err instanceof HttpOAuthError) return err.status;
  if (err instanceof NotFoundError) return 404;
  return STATUS_BY_CODE[err.error] ?? 400;
}

const BEARER_CHALLENGE = { 'WWW-Authenticate': 'Bearer error="invalid_token"' } as const;
const BASIC_CHALLENGE = { 'WWW-Authenticate': 'Basic realm="kalm"' } as const;

// RFC 9110 §10.2.3: a 503 says when to come back; the store is usually back within seconds.
const RETRY_AFTER = { 'Retry-After': '2' } as const;

/**
 * The headers an error answered with `status` adds: the `WWW-Authenticate` challenge of a 401
 * (RFC 9110 §15.5.2), the `Retry-After` of a 503; none otherwise.
 */
export function challengeHeaders(err: OAuthError, status: number): Readonly<Record<string, string>> | undefined {
  if (status === 503) return RETRY_AFTER;
  if (status !== 401) return undefined;
  return err.error === 'invalid_token' ? BEARER_CHALLENGE : BASIC_CHALLENGE;
}

/** The JSON body of an OAuth error answer. */
export function oauthErrorBody(err: OAuthError): Record<string, string | number> {
  return { ...err.toJSON(), error_description: errorDescription(err.description) };
}

/** The body of an answer to a request that failed on our side; the error itself is logged, never sent. */
export const SERVER_ERROR_BODY = { error: 'server_error', error_description: 'internal error' } as const;

/**
 * RFC 6749 §5.2: `error_description` is limited to %x20-21 / %x23-5B / %x5D-7E, so no `"`, no `\`
 * and nothing outside printable ASCII, even when a description echoes what a client sent.
 */
export function errorDescription(text: string): string {
  return text
    .replace(/"/g, "'")
    .replace(/§/g, 'section ')
    .replace(/…/g, '...')
    .replace(/[–—]/g, '-')
    .replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?')
    .slice(0, 500);
}

/** What body-parser says when it refuses a body. */
export interface ParserError {
  type?: string;
  status?: number;
}

/** Body-parser errors are bad input, not server faults: map them to invalid_request. */
export function fromParserError(err: ParserError): HttpOAuthError | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return new HttpOAuthError('invalid_request', 'request body is too large', 413);
    case 'parameters.too.many':
      return new HttpOAuthError('invalid_request', 'too many parameters', 413);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new HttpOAuthError('invalid_request', 'unsupported body encoding', 415);
    case 'entity.parse.failed':
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new HttpOAuthError('invalid_request', 'malformed request body', 400);
    default:
      return typeof err.status === 'number' && err.status >= 400 && err.status < 500
        ? new HttpOAuthError('invalid_request', 'malformed request', err.status)
        : undefined;
  }
}

/** The OAuth error a thrown value is answered with, or undefined for a bug (answered 500 and logged). */
export function asOAuthError(err: unknown): OAuthError | undefined {
  if (err instanceof OAuthError) return err;
  return typeof err === 'object' && err !== null ? fromParserError(err as ParserError) : undefined;
}
