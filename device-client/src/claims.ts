/**
 * `@kalm/device-client/claims`: read what an access token says about the pairing,
 * for display. Its own entry point: not every embedder needs it.
 *
 * @packageDocumentation
 */

/**
 * The claims of a JWT access token (RFC 9068), decoded WITHOUT verifying the
 * signature: for showing who signed in (`sub`) on the device, never for trusting.
 * Undefined when the token is not a JWT.
 *
 * @example
 * ```ts
 * const { sub, scope } = accessTokenClaims(pairing.accessToken) ?? {}
 * ```
 */
export function accessTokenClaims(accessToken: string): Record<string, unknown> | undefined {
  try {
    const part = accessToken.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
