/**
 * RFC 6749 §5.2 / RFC 8628 §3.5 / RFC 7591 §3.2.2 error codes this server answers with.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'invalid_token'
  | 'unsupported_token_type'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  // OpenID Connect Core §3.1.2.6, answered to prompt=none
  | 'login_required'
  | 'consent_required'
  // RFC 9449 §5, §8, §12.2
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

/**
 * The one error class of the protocol: `core/` throws it, `http/` turns it into
 * RFC 6749 §5.2 JSON, `mqtt/` into a `…/rejected` message. It says what went wrong;
 * each transport picks its own answer for it (the HTTP status: http/oauth-errors.ts).
 */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';

  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** Extra members of the error body, such as the new `interval` of a slow_down. */
    readonly extra: Record<string, string | number> = {},
  ) {
    // An OAuthError is an answer, not a fault: nothing reads its stack, so none is captured
    // (V8 walks the stack for every Error otherwise, and the most frequent request of all, a
    // pending poll, is answered with one). Programmer errors stay plain Errors, with stacks.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(`${error}: ${description}`);
    Error.stackTraceLimit = stackTraceLimit;
  }

  toJSON(): Record<string, string | number> {
    return { error: this.error, error_description: this.description, ...this.extra };
  }
}

/**
 * The caller named something that does not exist, or that is not theirs to see (which
 * answers alike, so that nobody learns what others own). An invalid_request to the protocol;
 * HTTP answers it 404.
 */
export class NotFoundError extends OAuthError {
  constructor(description: string) {
    super('invalid_request', description);
  }
}

/**
 * The store cannot be reached (a networked database that is down or restarting). Answered
 * `temporarily_unavailable` (HTTP 503, RFC 6749 §5.2 shape) so clients retry; nothing was
 * changed by the request that got it. Engines throw it; core lets it pass.
 */
export class StoreUnavailableError extends OAuthError {
  constructor(readonly reason: string) {
    super('temporarily_unavailable', 'the service is briefly unavailable; try again shortly');
  }
}
