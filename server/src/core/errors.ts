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
  | 'consent_required';

/**
 * The one error class of the protocol: `core/` throws it, `http/` turns it into
 * RFC 6749 §5.2 JSON, `mqtt/` into a `…/rejected` message.
 */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';

  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** HTTP status; 400 unless the RFC says otherwise (401 for invalid_client). */
    readonly status: number = error === 'invalid_client' || error === 'invalid_token' ? 401 : 400,
    /** Extra members of the error body, such as the new `interval` of a slow_down. */
    readonly extra: Record<string, string | number> = {},
  ) {
    super(`${error}: ${description}`);
  }

  toJSON(): Record<string, string | number> {
    return { error: this.error, error_description: this.description, ...this.extra };
  }
}
