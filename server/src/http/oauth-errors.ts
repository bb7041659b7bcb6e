import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { NotFoundError, OAuthError, type OAuthErrorCode } from '../core/errors.js';
import type { Logger } from '../logger.js';

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

/** RFC 6749 §5.2: the JSON error body, with `WWW-Authenticate` only on a 401. */
export function sendOAuthError(res: Response, err: OAuthError): void {
  for (const [name, value] of Object.entries(oauthErrorHeaders(err))) res.setHeader(name, value);
  res.status(httpStatus(err)).json(oauthErrorBody(err));
}

/** The headers of an OAuth error answer (shared with fast-path.ts). */
export function oauthErrorHeaders(err: OAuthError): Record<string, string> {
  // RFC 6749 §5.1: no cache may keep a token endpoint answer, and an error is one too (it may be
  // raised before the route's own no-store runs, by the body parser).
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  if (httpStatus(err) === 401) {
    headers['WWW-Authenticate'] = err.error === 'invalid_token' ? 'Bearer error="invalid_token"' : 'Basic realm="kalm"';
  }
  return headers;
}

/** The JSON body of an OAuth error answer (shared with fast-path.ts). */
export function oauthErrorBody(err: OAuthError): Record<string, string | number> {
  return { ...err.toJSON(), error_description: errorDescription(err.description) };
}

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

/** Body-parser errors are bad input, not server faults: map them to invalid_request. */
export function fromParserError(err: { type?: string; status?: number }): HttpOAuthError | undefined {
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

/** The last middleware: OAuth errors as RFC JSON; anything else is a bug, logged and answered 500. */
export function oauthErrorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const oauth = err instanceof OAuthError ? err : fromParserError(err as { type?: string; status?: number });
    if (res.headersSent) {
      logger.error({ err, path: req.path }, 'error after the response started');
      return;
    }
    if (oauth) {
      sendOAuthError(res, oauth);
      return;
    }
    logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json({ error: 'server_error', error_description: 'internal error' });
  };
}

/** RFC 6749 §5.1 / RFC 8628 §3.2: token-bearing responses must never be cached. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  next();
};
