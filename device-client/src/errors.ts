/**
 * Typed errors. Callers branch on the class or on `error` (the RFC 6749 §5.2 /
 * RFC 8628 §3.5 code), never on message text.
 */

/**
 * An error answered by the authorization server (or, for `expired_token`, reached
 * by the device's own clock): `error` is the OAuth error code, `description` the
 * server's `error_description`.
 *
 * @example
 * ```ts
 * try { await auth.wait() } catch (err) {
 *   if (err instanceof OAuthResponseError) console.log(err.error, err.description)
 * }
 * ```
 */
export class OAuthResponseError extends Error {
  /** The OAuth error code, such as `invalid_client`. */
  declare readonly error: string;
  /** The server's `error_description`, or a short explanation of ours. */
  declare readonly description: string;
  /** HTTP status of the answer; 0 when no answer came (network failure). */
  declare readonly status: number;

  constructor(error: string, description = '', status = 400) {
    super(description ? `${error}: ${description}` : error);
    this.name = new.target.name;
    this.error = error;
    this.description = description;
    this.status = status;
  }
}

/** RFC 8628 §3.5 `access_denied`: the person declined on the verification page. */
export class AccessDeniedError extends OAuthResponseError {}

/**
 * RFC 8628 §3.5 `expired_token`: the device code expired before a decision, either
 * answered by the server or reached by the device's clock at `expires_in`. Start again.
 */
export class ExpiredTokenError extends OAuthResponseError {}

/**
 * The stored pairing can no longer be used: the refresh token was refused
 * (`invalid_grant`: revoked from "My devices", expired, or reused) or there is no
 * pairing at all. The app should start a new device authorization.
 */
export class PairingLostError extends OAuthResponseError {}

/** `wait()` was stopped through its `AbortSignal`; `cause` is the signal's reason. */
export class AbortedError extends Error {
  constructor(cause?: unknown) {
    super('aborted', { cause });
    this.name = new.target.name;
  }
}
